/**
 * How much memory a run may still take: what the machine has available, or less where the process
 * runs in a control group with a memory limit (a container: the OS kills the process at that limit
 * whatever the machine has free; the group's usage counts without its reclaimable file cache), or
 * what the run configuration allows (`memory.limitMiB`, the process's whole resident memory, of
 * which what it holds already is taken off).
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
function cgroupDir(root: string, procCgroup: string): string | null {
  try {
    const line = readFileSync(procCgroup, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line ? `${root}${line.slice(3)}`.replace(/\/$/, '') : null;
  } catch {
    return null;
  }
}

/** One `key value` entry of a cgroup's memory.stat, or 0 where absent. */
function statEntry(file: string, key: string): number {
  try {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${key} `));
    const n = line ? Number(line.slice(key.length + 1)) : 0;
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

/** Where a cgroup's files are: the hierarchy's root and this process's membership file. */
export interface CgroupPaths {
  root: string;
  procCgroup: string;
}

/** A cgroup's limit, usage and stat files, and the stat key of its reclaimable file cache. */
interface CgroupFiles {
  limit: string;
  usage: string;
  stat: string;
  inactive: string;
}

const SYSTEM_CGROUP: CgroupPaths = { root: '/sys/fs/cgroup', procCgroup: '/proc/self/cgroup' };

/**
 * Bytes left below the control group's memory limit (cgroup v2, else v1), or null when unlimited.
 * The usage counts the page cache the group's files fill; its inactive part is reclaimed before the
 * OS kills anything, so it is not counted as used (the "working set" that container runtimes
 * compare with the limit: usage less inactive_file).
 */
export function cgroupHeadroom(paths: CgroupPaths = SYSTEM_CGROUP): number | null {
  const { root } = paths;
  const v2 = (d: string): CgroupFiles => ({
    limit: `${d}/memory.max`,
    usage: `${d}/memory.current`,
    stat: `${d}/memory.stat`,
    inactive: 'inactive_file',
  });
  const dir = cgroupDir(root, paths.procCgroup);
  const candidates: CgroupFiles[] = [
    ...(dir ? [v2(dir)] : []),
    v2(root),
    {
      limit: `${root}/memory/memory.limit_in_bytes`,
      usage: `${root}/memory/memory.usage_in_bytes`,
      stat: `${root}/memory/memory.stat`,
      inactive: 'total_inactive_file',
    },
  ];
  for (const files of candidates) {
    const limit = readNumber(files.limit);
    // cgroup v1 reports "no limit" as a huge number (page-rounded 2^63).
    if (limit === null || limit >= 2 ** 60) continue;
    const usage = readNumber(files.usage) ?? 0;
    const used = Math.max(0, usage - statEntry(files.stat, files.inactive));
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
export function availableMemory(limitBytes?: number, cgroup: CgroupPaths = SYSTEM_CGROUP): AvailableMemory {
  if (limitBytes !== undefined) {
    const rss = process.memoryUsage().rss;
    return {
      bytes: Math.max(0, limitBytes - rss),
      source: `memory.limitMiB ${Math.round(limitBytes / 2 ** 20)} less the ${Math.round(rss / 2 ** 20)} MiB the process holds`,
    };
  }
  const free = freemem();
  const headroom = cgroupHeadroom(cgroup);
  if (headroom !== null && headroom < free)
    return { bytes: headroom, source: "the cgroup's memory.max less its working set" };
  return { bytes: free, source: 'the memory the machine has available' };
}
