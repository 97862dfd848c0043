#!/usr/bin/env node
/**
 * Train-step benchmark of the ONNX Runtime backend (the same as `peftkit bench train-step --json`):
 * prints the BenchReport as JSON on stdout, progress on stderr.
 *
 *   node tools/bench-train-step.mjs [--quick] [--batch 8] [--seq 128] [--iterations 5] [--warmup 2]
 *        [--threads N] [--norm post|pre] [--no-memory] [--seed N] [--max-rounds 15]
 *        [--backend '{"allowSpinning":false}']
 *
 * Build first (npm run build).
 */
import { runTrainStepBench } from '@peftkit/plugin-onnxruntime';

const args = process.argv.slice(2);
const options = { progress: (m) => console.error(`[bench] ${m}`) };
const ints = {
  '--batch': 'batch',
  '--seq': 'seq',
  '--iterations': 'iterations',
  '--warmup': 'warmup',
  '--threads': 'threads',
  '--seed': 'seed',
  '--max-rounds': 'maxRounds',
};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    return v;
  };
  if (a === '--quick') options.quick = true;
  else if (a === '--no-memory') options.memory = false;
  else if (a === '--norm') options.norm = value();
  else if (a === '--backend') options.backend = JSON.parse(value());
  else if (ints[a]) {
    const v = Number(value());
    if (!Number.isInteger(v)) throw new Error(`${a} must be an integer`);
    options[ints[a]] = v;
  } else {
    console.error(`unknown argument ${a}; see the header of tools/bench-train-step.mjs`);
    process.exit(2);
  }
}
const report = await runTrainStepBench(options);
console.log(JSON.stringify(report, null, 2));
