/** What machine and software a benchmark ran on. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs Node can use (os.availableParallelism()). */
  cores: number;
  /** CPU flags that matter for ONNX Runtime's MLAS kernels. */
  simd: string[];
  memoryGiB: number;
  platform: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  let flags: string[] = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
    const model = field('model name');
    const family = field('cpu family');
    const modelNo = field('model');
    if (model) cpuModel = `${model}${family ? ` (family ${family}, model ${modelNo})` : ''}`;
    flags = (field('flags') ?? '').split(/\s+/);
  } catch {
    /* not Linux: keep os.cpus() */
  }
  const simd = [
    'sse4_2',
    'avx',
    'avx2',
    'fma',
    'f16c',
    'avx512f',
    'avx512_vnni',
    'avx512_bf16',
    'amx_tile',
  ].filter((f) => flags.includes(f));
  return {
    cpuModel,
    cores: availableParallelism(),
    simd,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Peak resident set size of this process so far, in MiB (all threads, so ORT's worker too). On
 * Linux from /proc/self/status VmHWM, which starts afresh with the process image:
 * getrusage()'s maxRSS survives execve, so a child process would report its parent's peak
 * whenever that was higher.
 */
export function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS / 1024;
}

export function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

export interface CpuSample {
  /** Jiffies of all CPUs: busy (including steal) and idle. */
  busy: number;
  idle: number;
  /** Jiffies this process (every thread) spent. */
  self: number;
}

/** CPU counters for telling this process's load from everybody else's (Linux only). */
export function cpuSample(): CpuSample | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      busy: user + nice + system + irq + softirq + (steal ?? 0),
      idle: idle + iowait,
      self: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return null;
  }
}

/**
 * Fraction of the machine's CPU time between two samples that went to other processes (or to the
 * hypervisor, as steal): 0 on an otherwise idle machine; null where it cannot be measured.
 */
export function otherLoad(a: CpuSample | null, b: CpuSample | null): number | null {
  if (!a || !b) return null;
  const total = b.busy - a.busy + (b.idle - a.idle);
  if (total <= 0) return null;
  return Math.max(0, (b.busy - a.busy - (b.self - a.self)) / total);
}
