/**
 * Run a conformance suite in a separate mocha instance and report which of its tests passed and
 * which failed (with their messages), so that the kit's own tests can check that a suite rejects a
 * broken implementation with the right message and accepts a correct one.
 */
import Mocha from 'mocha';

export interface SuiteReport {
  passed: string[];
  /** Failed test title → error message. */
  failed: Map<string, string>;
}

const GLOBALS = [
  'describe',
  'it',
  'before',
  'after',
  'beforeEach',
  'afterEach',
  'context',
  'specify',
  'xit',
  'xdescribe',
];

/** A reporter that prints nothing (the outer run reports the kit's tests). */
function Silent(this: unknown) {}

export async function runIsolated(register: () => void): Promise<SuiteReport> {
  const m = new Mocha({ reporter: Silent as unknown as string, timeout: 60_000 });
  const g = globalThis as Record<string, unknown>;
  const saved = GLOBALS.map((k) => [k, g[k]] as const);
  m.suite.emit('pre-require', globalThis, 'conformance-under-test', m);
  try {
    register();
  } finally {
    for (const [k, v] of saved) g[k] = v;
  }
  const report: SuiteReport = { passed: [], failed: new Map() };
  await new Promise<void>((resolve) => {
    const runner = m.run(() => resolve());
    runner.on('pass', (t) => void report.passed.push(t.title));
    runner.on('fail', (t, err: Error) => void report.failed.set(t.title, err.message));
  });
  m.dispose();
  return report;
}

/** The message of the failed test whose title contains `title` (throws when none failed). */
export function failure(report: SuiteReport, title: string): string {
  for (const [t, msg] of report.failed) if (t.includes(title)) return msg;
  throw new Error(
    `expected a failing test titled like "${title}"; failed: ${[...report.failed.keys()].join(' | ') || 'none'}`,
  );
}
