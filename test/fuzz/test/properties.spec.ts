/**
 * Property-based tests (fast-check) of the preset loader and `--set` paths: whatever text or path
 * comes in, the result is the value written or a ConfigError naming the file or the command line,
 * never another error, never in more than linear time, and never a change to Object.prototype.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ConfigError } from '@peftkit/api';
import {
  applyOverrides,
  emptySource,
  parseOverride,
  parseYamlWithOrigins,
  toYamlText,
  UNSAFE_KEYS,
} from '@peftkit/engine';

/** Object.prototype's own keys: a polluting write would add one. */
const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

function expectPrototypeIntact(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(PROTO_KEYS);
  expect(({} as Record<string, unknown>).x).to.equal(undefined);
}

/** Run `f`; a ConfigError is an answer, anything else thrown is a failure of the property. */
function outcome<T>(f: () => T): { value: T } | { error: ConfigError } {
  try {
    return { value: f() };
  } catch (e) {
    if (e instanceof ConfigError) return { error: e };
    throw e;
  }
}

/** Keys as users might write them, including the ones that reach Object.prototype. */
const key = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(...UNSAFE_KEYS) },
);
const scalar = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
);
const tree = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const hasUnsafeKey = (v: unknown): boolean =>
  Array.isArray(v)
    ? v.some(hasUnsafeKey)
    : v !== null && typeof v === 'object'
      ? Object.keys(v).some((k) => UNSAFE_KEYS.includes(k) || hasUnsafeKey((v as Record<string, unknown>)[k]))
      : false;

describe('fuzz: properties of the preset loader and --set paths', function () {
  this.timeout(60_000);

  it('reads back any value written as YAML, or refuses the reserved keys naming the file', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const text = toYamlText({ v: value });
        const r = outcome(() => parseYamlWithOrigins(text, 'p.yaml').value);
        if ('error' in r) {
          expect(hasUnsafeKey(value), r.error.message).to.equal(true);
          expect(r.error.message).to.match(
            /^p\.yaml:\d+: the key "(__proto__|constructor|prototype)" is not allowed/,
          );
        } else {
          expect(hasUnsafeKey(value)).to.equal(false);
          expect(r.value).to.deep.equal({ v: value });
        }
        expectPrototypeIntact();
      }),
      { numRuns: 300 },
    );
  });

  it('answers any text with a value or a ConfigError naming the file, in bounded time', () => {
    const yamlish = fc
      .array(
        fc.constantFrom(
          'a',
          ':',
          ' ',
          '\n',
          '-',
          '[',
          ']',
          '{',
          '}',
          '&x',
          '*x',
          '"',
          "'",
          '#',
          '?',
          '|',
          '>',
          '!',
          '%',
          '@',
          '`',
          ',',
          '\t',
          '\r',
          '__proto__',
        ),
        {
          maxLength: 60,
        },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string({ maxLength: 80 })), (text) => {
        const t0 = performance.now();
        const r = outcome(() => parseYamlWithOrigins(text, 'p.yaml'));
        if ('error' in r) expect(r.error.message).to.match(/^p\.yaml(:\d+)?: /);
        expect(performance.now() - t0).to.be.below(1000);
        expectPrototypeIntact();
      }),
      { numRuns: 500 },
    );
  });

  it('sets any --set path to its value, or refuses it naming the command line', () => {
    const segment = fc.oneof(
      { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,6}$/) },
      { weight: 1, arbitrary: fc.constantFrom(...UNSAFE_KEYS) },
    );
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.integer(), (path, n) => {
        const arg = `${path.join('.')}=${n}`;
        const r = outcome(() => applyOverrides(emptySource('/tmp'), [arg]));
        if ('error' in r) {
          expect(
            path.some((s) => UNSAFE_KEYS.includes(s)) || path[0] === 'extends',
            r.error.message,
          ).to.equal(true);
          expect(r.error.message).to.match(/^command line \(--set /);
        } else {
          let cur: unknown = r.value.value;
          for (const s of path) cur = (cur as Record<string, unknown>)[s];
          expect(cur).to.equal(n);
          expect(r.value.origins.get(path)?.file).to.equal('command line');
        }
        expectPrototypeIntact();
      }),
      { numRuns: 500 },
    );
  });

  it('answers any --set argument with a path and value, or a ConfigError naming the command line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (arg) => {
        const r = outcome(() => parseOverride(arg));
        if ('error' in r) expect(r.error.message).to.match(/^command line/);
        else expect(r.value.path.length).to.be.greaterThan(0);
        expectPrototypeIntact();
      }),
      { numRuns: 500 },
    );
  });
});
