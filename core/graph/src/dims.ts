/**
 * Symbolic tensor dimensions.
 *
 * A dimension is either a concrete size (a non-negative integer) or a symbolic polynomial with
 * integer coefficients written as a string: `"B"`, `"B*T"`, `"4*B"`, `"T+8"`. Transformer graphs only
 * ever multiply dynamic dimensions (flattening `[B, T, H]` into `[B*T, H]`), divide them back out,
 * and add constants (prefix tokens concatenated to a sequence), so polynomials are enough. Keeping
 * shapes symbolic lets inference check a graph once for every batch size and sequence length.
 */

export type Dim = number | string;

/** A polynomial: monomial key (sorted symbols joined by '*', '' for the constant) to coefficient. */
export type Poly = Map<string, number>;

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parsePoly(d: Dim): Poly {
  const p: Poly = new Map();
  if (typeof d === 'number') {
    if (!Number.isInteger(d)) throw new Error(`dimension ${d} is not an integer`);
    if (d !== 0) p.set('', d);
    return p;
  }
  const src = d.replace(/\s+/g, '');
  if (!src) throw new Error('empty symbolic dimension');
  // Split into signed terms: "T+8", "B*T-4".
  const terms = src.match(/[+-]?[^+-]+/g);
  if (!terms || terms.join('') !== src) throw new Error(`invalid symbolic dimension "${d}"`);
  for (const term of terms) {
    let sign = 1;
    let body = term;
    if (body.startsWith('+')) body = body.slice(1);
    else if (body.startsWith('-')) {
      sign = -1;
      body = body.slice(1);
    }
    let coef = sign;
    const syms: string[] = [];
    for (const f of body.split('*')) {
      if (/^\d+$/.test(f)) coef *= Number(f);
      else if (SYMBOL.test(f)) syms.push(f);
      else
        throw new Error(
          `invalid symbolic dimension "${d}": factor "${f}" is neither an integer nor an identifier`,
        );
    }
    syms.sort();
    addTerm(p, syms.join('*'), coef);
  }
  return p;
}

function addTerm(p: Poly, key: string, coef: number): void {
  const c = (p.get(key) ?? 0) + coef;
  if (c === 0) p.delete(key);
  else p.set(key, c);
}

export function formatPoly(p: Poly): Dim {
  const keys = [...p.keys()].sort((a, b) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return 0;
  if (keys.length === 1 && keys[0] === '') return p.get('')!;
  let out = '';
  for (const k of keys) {
    const c = p.get(k)!;
    const mag = Math.abs(c);
    const body = k === '' ? String(mag) : mag === 1 ? k : `${mag}*${k}`;
    out += out === '' ? (c < 0 ? `-${body}` : body) : c < 0 ? `-${body}` : `+${body}`;
  }
  return out;
}

/** Canonical form of a dimension (`"T*B"` becomes `"B*T"`, `"2+T"` becomes `"T+2"`). */
export function dim(d: Dim): Dim {
  return formatPoly(parsePoly(d));
}

export function isStatic(d: Dim): d is number {
  return typeof d === 'number';
}

export function dimEquals(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  return formatPoly(parsePoly(a)) === formatPoly(parsePoly(b));
}

export function addDim(a: Dim, b: Dim): Dim {
  const p = parsePoly(a);
  for (const [k, c] of parsePoly(b)) addTerm(p, k, c);
  return formatPoly(p);
}

export function subDim(a: Dim, b: Dim): Dim {
  const p = parsePoly(a);
  for (const [k, c] of parsePoly(b)) addTerm(p, k, -c);
  return formatPoly(p);
}

function mulKeys(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  return [...a.split('*'), ...b.split('*')].sort().join('*');
}

export function mulDim(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const x = parsePoly(a);
  const y = parsePoly(b);
  const out: Poly = new Map();
  for (const [ka, ca] of x) for (const [kb, cb] of y) addTerm(out, mulKeys(ka, kb), ca * cb);
  return formatPoly(out);
}

/** Exact division; `undefined` unless every term of `a` is divisible by the monomial `b` (or a == b). */
export function divDim(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === 'number' && typeof b === 'number') return b !== 0 && a % b === 0 ? a / b : undefined;
  if (dimEquals(a, b)) return 1;
  const y = parsePoly(b);
  if (y.size !== 1) return undefined;
  const [[kb, cb]] = [...y.entries()] as [[string, number]];
  const bSyms = kb ? kb.split('*') : [];
  const out: Poly = new Map();
  for (const [ka, ca] of parsePoly(a)) {
    if (ca % cb !== 0) return undefined;
    const rest = ka ? ka.split('*') : [];
    for (const s of bSyms) {
      const i = rest.indexOf(s);
      if (i < 0) return undefined;
      rest.splice(i, 1);
    }
    addTerm(out, rest.join('*'), ca / cb);
  }
  return formatPoly(out);
}

export function productOf(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => mulDim(acc, d), 1);
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

export function shapesEqual(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => dimEquals(d, b[i]!));
}

/**
 * Numpy-style broadcast of two shapes. Returns `undefined` when they are incompatible. A symbolic
 * dimension broadcasts only against 1 or an equal symbolic dimension.
 */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (dimEquals(da, db)) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else return undefined;
  }
  return out;
}

/** Substitute concrete values for symbols (used to size test inputs and count FLOPs). */
export function evalDim(d: Dim, bindings: Readonly<Record<string, number>>): number {
  if (typeof d === 'number') return d;
  let v = 0;
  for (const [k, c] of parsePoly(d)) {
    let t = c;
    if (k) {
      for (const s of k.split('*')) {
        const b = bindings[s];
        if (b === undefined) throw new Error(`no value bound for symbolic dimension "${s}"`);
        t *= b;
      }
    }
    v += t;
  }
  return v;
}

export function evalShape(shape: readonly Dim[], bindings: Readonly<Record<string, number>>): number[] {
  return shape.map((d) => evalDim(d, bindings));
}

/** The terms of a polynomial dimension as (coefficient, symbols) pairs. */
export function termsOf(d: Dim): { coef: number; syms: string[] }[] {
  return [...parsePoly(d)].map(([k, coef]) => ({ coef, syms: k ? k.split('*') : [] }));
}
