/**
 * Can ONNX Runtime load its CUDA execution provider here, and if not, why not?
 *
 * onnxruntime-node's npm package ships the CPU and WebGPU providers only; its postinstall script
 * downloads the CUDA provider from NuGet, which peftkit's install skips (no NuGet access). ORT's
 * exception then says only "Failed to load shared library" (the reason goes to its stderr log), so
 * the diagnosis looks for the files itself and, when they are there, asks `ldd` what is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { Graph, ops, serialize } from '@peftkit/graph';
import { cleanOrtMessage, messageOf } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { CudaProbe } from './protocol.js';
import { sessionOptions } from './session-options.js';

export const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

/** The folder onnxruntime-node loads its native libraries (and provider plugins) from. */
export function ortBinDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Static part of the diagnosis: are the provider files present at all? */
export function diagnoseCuda(): CudaProbe {
  const binDir = ortBinDir();
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      loads: false,
      reason: `peftkit supports the CUDA provider of onnxruntime-node on linux-x64 only (this is ${process.platform}-${process.arch})`,
      binDir,
    };
  }
  const missing = CUDA_PROVIDER_FILES.filter((f) => !existsSync(join(binDir, f)));
  if (missing.length > 0) {
    return {
      loads: false,
      reason: `the CUDA provider is not installed: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing from ${binDir}`,
      binDir,
    };
  }
  return { loads: true, reason: '', binDir };
}

/** Libraries the CUDA provider needs that the dynamic loader cannot find (`ldd`), if ldd runs. */
function missingLibraries(lib: string): string[] {
  try {
    const out = execFileSync('ldd', [lib], { encoding: 'utf8', timeout: 10_000 });
    return out
      .split('\n')
      .filter((l) => l.includes('not found'))
      .map((l) => l.trim().split(/\s+/)[0]!);
  } catch {
    return [];
  }
}

/** Real probe: create a one-node session on the CUDA provider. */
export async function probeCuda(options: ResolvedOptions): Promise<CudaProbe> {
  const stat = diagnoseCuda();
  if (!stat.loads) return stat;
  const g = new Graph('cuda-probe');
  g.output(ops.relu(g.input('x', 'float32', [1])), 'y');
  const { model } = serialize(g);
  try {
    const s = await ort.InferenceSession.create(model, sessionOptions(options, 'cuda'));
    await s.release();
    return stat;
  } catch (e) {
    const missing = missingLibraries(join(stat.binDir, 'libonnxruntime_providers_cuda.so'));
    const why = cleanOrtMessage(messageOf(e));
    return {
      loads: false,
      reason: missing.length
        ? `${why}; libonnxruntime_providers_cuda.so needs ${missing.join(', ')}, which the dynamic loader cannot find`
        : why,
      binDir: stat.binDir,
    };
  }
}

/** What a user has to do to make `provider: 'cuda'` work (printed with the failure). */
export function cudaInstallHelp(binDir: string, ortVersion: string): string {
  return [
    `onnxruntime-node ${ortVersion} from npm ships the CPU and WebGPU providers only; the CUDA provider is a separate download from NuGet that peftkit's install skips. To install it:`,
    `  1. Get the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux ${ortVersion} (the exact version of onnxruntime-node): https://www.nuget.org/api/v2/package/Microsoft.ML.OnnxRuntime.Gpu.Linux/${ortVersion} (a zip file).`,
    `  2. Copy runtimes/linux-x64/native/libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so from it into ${binDir}/`,
    `     (with NuGet reachable, onnxruntime-node's own script does steps 1-2: cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js).`,
    `  3. Install the CUDA 12 runtime (cudart, cuBLAS, cuBLASLt, cuFFT, cuRAND) and cuDNN 9 where the dynamic loader finds them (ldconfig or LD_LIBRARY_PATH); \`ldd ${binDir}/libonnxruntime_providers_cuda.so\` must list nothing as "not found".`,
    `  Verified: the file names, the NuGet package and the folder (onnxruntime-node's script/install-metadata.js), and that without them the CPU provider works. Not verified (no GPU machine): the CUDA and cuDNN major versions (the package says CUDA 12 + cuDNN 9; some recent ORT GPU builds link CUDA 13, so check with ldd).`,
    `  Or set the backend option fallbackToCpu: true to run on the CPU with a warning.`,
  ].join('\n');
}
