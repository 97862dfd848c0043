/** Text renderings of run events shared by the tty and plain reporters. */
import type { ProgressEvent, RunEvent } from '@peftkit/api';

/** Where reporters write: a stream with `write`, possibly a terminal. */
export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export function isProgress(e: RunEvent): e is ProgressEvent {
  return e.type === 'progress' && typeof e.done === 'number' && typeof e.total === 'number';
}

/** `m:ss`, or `h:mm:ss` from an hour. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Integers as they are; other numbers with 4 significant digits. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'boolean' || v === null || typeof v === 'bigint') return String(v);
  if (ArrayBuffer.isView(v)) return `[${(v as unknown as ArrayLike<unknown>).length} values]`;
  if (Array.isArray(v)) {
    if (v.length <= 4 && v.every((x) => typeof x === 'number' || typeof x === 'string')) {
      return `[${v.map((x) => (typeof x === 'number' ? formatNumber(x) : x)).join(', ')}]`;
    }
    return `[${v.length} items]`;
  }
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 48 ? `${s.slice(0, 47)}…` : s;
}

/** One line for an event: `[0:12] search epoch epoch=2 loss=0.5321`. */
export function formatEvent(e: RunEvent): string {
  const parts: string[] = [];
  if (typeof e.t === 'number') parts.push(`[${formatElapsed(e.t)}]`);
  if (e.phase) parts.push(e.phase);
  if (isProgress(e)) {
    const pct = e.total > 0 ? Math.floor((100 * e.done) / e.total) : 0;
    parts.push(`${e.done}/${e.total} (${pct}%)`);
    if (e.status) parts.push(e.status);
    return parts.join(' ');
  }
  parts.push(e.type);
  for (const [k, v] of Object.entries(e)) {
    if (k === 'type' || k === 't' || k === 'phase' || v === undefined) continue;
    parts.push(`${k}=${formatValue(v)}`);
  }
  return parts.join(' ');
}

/** A bar of `width` cells filled in proportion to done/total. */
export function progressBar(done: number, total: number, width: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** Event types that happen every optimiser step; shown only in verbose mode. */
export const FREQUENT_EVENTS: ReadonlySet<string> = new Set(['step']);
