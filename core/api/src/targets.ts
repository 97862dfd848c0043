/**
 * Target patterns over attachment-point names, as PEFT's target_modules: globs where `*` matches
 * within one dot-separated segment, `**` matches across segments, `[qv]` is a character class and
 * `{in,out}` lists alternatives. `layer.*.attn.[qv]` targets the query and value projections of
 * every layer.
 */
import type { AttachmentPoint } from './backbone.js';

export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^.]*';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) throw new Error(`target pattern "${pattern}": unclosed [`);
      re += `[${pattern.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) throw new Error(`target pattern "${pattern}": unclosed {`);
      re += `(?:${pattern
        .slice(i + 1, end)
        .split(',')
        .map((s) => s.replace(/[.+?^$()|\\]/g, '\\$&').replace(/\*/g, '[^.]*'))
        .join('|')})`;
      i = end;
    } else if ('.+?^$()|\\'.includes(c)) re += `\\${c}`;
    else re += c;
  }
  return new RegExp(`^${re}$`);
}

/**
 * Points matching any of the patterns (and of the given kinds), in backbone order. A pattern that
 * matches nothing is an error: a silently ignored target is a classic PEFT pitfall.
 */
export function matchPoints(
  patterns: string | readonly string[],
  points: readonly AttachmentPoint[],
  kinds?: readonly AttachmentPoint['kind'][],
): AttachmentPoint[] {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  const pool = kinds ? points.filter((p) => kinds.includes(p.kind)) : points;
  const hit = new Set<string>();
  for (const pat of list) {
    const re = globToRegExp(pat);
    const matched = pool.filter((p) => re.test(p.name));
    if (matched.length === 0) {
      const sample = pool
        .slice(0, 12)
        .map((p) => p.name)
        .join(', ');
      throw new Error(
        `target pattern "${pat}" matches no ${kinds ? kinds.join('/') + ' ' : ''}attachment point (available: ${sample}${pool.length > 12 ? ', ...' : ''})`,
      );
    }
    for (const p of matched) hit.add(p.name);
  }
  return pool.filter((p) => hit.has(p.name));
}
