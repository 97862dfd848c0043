/**
 * The tiny comparison the CLI tests share: the tiny fixture plugin's backbone and task, a short
 * recipe, and any of three strategies (BIPEFT with a 4-round schedule, random search given
 * BIPEFT's compute, manual LoRA), as a preset's YAML text. One definition, so that the compare,
 * distributed, TensorBoard and dashboard tests run the same small grid.
 */
import { fileURLToPath } from 'node:url';

export const TINY_PLUGIN = fileURLToPath(new URL('../../fixtures/tiny-plugin', import.meta.url));

/** BIPEFT with a schedule short enough for the tiny task (it ends within its 3 search epochs). */
export const TINY_BIPEFT = `{ name: bipeft, options: { pruneBeginEpoch: 0, scheduler: { name: bipeft-budget, options: { rounds: 4, window: 2, threshold: 0.5, lastRounds: 1 } } } }`;

const SPACE = '{ name: s1, options: { ranks: [1, 2] } }';

const STRATEGIES = {
  bipeft: `    - { label: bipeft, strategy: ${TINY_BIPEFT}, space: ${SPACE} }`,
  random: `    - { label: random, strategy: { name: random, options: { trialEpochs: 1 } }, space: ${SPACE}, matchComputeOf: bipeft }`,
  lora: '    - { label: lora, strategy: { name: manual, options: { type: lora } } }',
};

/** The shared settings: plugin, backbone, task, seeds and recipes (no output, no compare). */
export function tinyBase(seeds: readonly number[], extra = ''): string {
  return `plugins: [${JSON.stringify(TINY_PLUGIN)}]
backbone: { name: tiny, options: { hidden: 8 } }
task: { name: tiny, options: { train: 48, validation: 24, test: 24 } }
${extra}seeds: [${seeds.join(', ')}]
recipes:
  search: { epochs: 3, batchSize: 8, lr: 0.003 }
  retrain: { epochs: 2, batchSize: 8, lr: 0.003 }
`;
}

export interface TinyGridOptions {
  seeds: readonly number[];
  strategies: readonly (keyof typeof STRATEGIES)[];
  budgets: readonly number[];
  /** The comparison's output directory (`output.dir`; the name is `grid`). */
  outDir: string;
  /** More top-level YAML lines (a backend, say), each ending with a newline. */
  extra?: string;
}

/** A comparison preset over the tiny fixture. */
export function tinyGridPreset(o: TinyGridOptions): string {
  return `${tinyBase(o.seeds, o.extra)}compare:
  strategies:
${o.strategies.map((s) => STRATEGIES[s]).join('\n')}
  budgets: [${o.budgets.map((b) => `{ params: ${b} }`).join(', ')}]
output: { dir: ${JSON.stringify(o.outDir)}, name: grid }
`;
}
