/**
 * How much memory a run may still take: what the machine has available, or less where the process
 * runs in a control group with a memory limit (a container: the OS kills the process at that limit
 * whatever the machine has free), or what the run configuration allows (`memory.limitMiB`, the
 * process's whole resident memory, of which what it holds already is taken off).
 */
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

function readNumber(file: string): number | null {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text === 'max') return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The path of this process's cgroup v2 directory ("0::/path" in /proc/self/cgroup), if any. */
function cgroupDir(): string | null {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line ? `/sys/fs/cgroup${line.slice(3)}`.replace(/\/$/, '') : null;
  } catch {
    return null;
  }
}

/** Bytes left below the control group's memory limit (cgroup v2, else v1), or null when unlimited. */
export function cgroupHeadroom(): number | null {
  const dir = cgroupDir();
  const candidates: [string, string][] = [
    ...(dir ? ([[`${dir}/memory.max`, `${dir}/memory.current`]] as [string, string][]) : []),
    ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes'],
  ];
  for (const [limitFile, usageFile] of candidates) {
    const limit = readNumber(limitFile);
    // cgroup v1 reports "no limit" as a huge number (page-rounded 2^63).
    if (limit === null || limit >= 2 ** 60) continue;
    const used = readNumber(usageFile) ?? 0;
    return Math.max(0, limit - used);
  }
  return null;
}

export interface AvailableMemory {
  bytes: number;
  /** Where the figure comes from, for messages. */
  source: string;
}

/**
 * Memory the process may still allocate: `limitBytes` (the configuration's `memory.limitMiB`) less
 * its resident memory now, when given; else the smaller of the machine's available memory and the
 * cgroup's headroom.
 */
export function availableMemory(limitBytes?: number): AvailableMemory {
  if (limitBytes !== undefined) {
    const rss = process.memoryUsage().rss;
    return {
      bytes: Math.max(0, limitBytes - rss),
      source: `memory.limitMiB ${Math.round(limitBytes / 2 ** 20)} less the ${Math.round(rss / 2 ** 20)} MiB the process holds`,
    };
  }
  const free = freemem();
  const cgroup = cgroupHeadroom();
  if (cgroup !== null && cgroup < free) return { bytes: cgroup, source: "the cgroup's memory.max" };
  return { bytes: free, source: 'the memory the machine has available' };
}
