/**
 * The `__NAME__` training backend: another backend with every call passed through, counting the
 * programs compiled (`build` called), compiles answered from the cache, and runs.
 */
import type { BackendDescription, CompiledProgram, JsonSchema, Logger, TrainingBackend } from '@peftkit/api';
import type { Graph } from '@peftkit/graph';

export const __CLASS__OptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    backend: {
      'x-peftkit-component': 'training-backend',
      default: { name: 'onnxruntime' },
      description: 'The backend to wrap ({ name, options }).',
    },
  },
};

export interface BackendCounts {
  compiled: number;
  reused: number;
  runs: number;
}

export class __CLASS__ implements TrainingBackend {
  readonly counts: BackendCounts = { compiled: 0, reused: 0, runs: 0 };

  constructor(
    private readonly inner: TrainingBackend,
    private readonly log?: Logger,
  ) {}

  describe(): BackendDescription {
    return this.inner.describe();
  }

  async compile(key: string, build: () => Graph): Promise<CompiledProgram> {
    let built = false;
    const program = await this.inner.compile(key, () => {
      built = true;
      return build();
    });
    if (built) this.counts.compiled++;
    else this.counts.reused++;
    const counts = this.counts;
    return {
      inputs: program.inputs,
      outputs: program.outputs,
      run(feeds, fetches) {
        counts.runs++;
        return program.run(feeds, fetches);
      },
    };
  }

  release(key: string): Promise<void> {
    return this.inner.release(key);
  }

  async dispose(): Promise<void> {
    const { compiled, reused, runs } = this.counts;
    this.log?.info(`__NAME__: ${compiled} programs compiled, ${reused} compiles reused, ${runs} runs`);
    await this.inner.dispose();
  }
}
