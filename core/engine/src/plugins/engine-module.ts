/**
 * The engine's own contributions, registered through the same mechanism as any plugin (manifest
 * checks included): the reporters `tty`, `plain`, `quiet` and `jsonl`. Further engine components
 * (the local executor) are added here, each with its name in ENGINE_PLUGIN's manifest.
 */
import { API_VERSION, ContainerModule, contribute, type Reporter } from '@peftkit/api';
import { localExecutorFactory } from '@peftkit/runtime';
import { JsonlReporter } from '../reporters/jsonl.js';
import { PLAIN_SCHEMA, PlainReporter, type PlainOptions } from '../reporters/plain.js';
import { TTY_SCHEMA, TtyReporter, type TtyOptions } from '../reporters/tty.js';
import type { PluginInfo } from './registry.js';
import { ENGINE_DIR, engineVersion } from '../util/paths.js';

class QuietReporter implements Reporter {
  onEvent(): void {}
}

export const ENGINE_MODULE = new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'reporter',
    name: 'tty',
    description:
      'Progress bar on the terminal (stderr) with phase, done/total and status; plain lines when not a terminal',
    optionsSchema: TTY_SCHEMA,
    create: (o) => new TtyReporter(process.stderr, o as unknown as TtyOptions),
  });
  contribute(bind, {
    kind: 'reporter',
    name: 'plain',
    description: 'One line per event, progress lines rate-limited (for logs and CI)',
    optionsSchema: PLAIN_SCHEMA,
    create: (o) =>
      new PlainReporter(
        o.stream === 'stdout' ? process.stdout : process.stderr,
        o as unknown as PlainOptions,
      ),
  });
  contribute(bind, {
    kind: 'reporter',
    name: 'quiet',
    description: 'Shows nothing',
    optionsSchema: { type: 'object', additionalProperties: false },
    create: () => new QuietReporter(),
  });
  contribute(bind, {
    kind: 'reporter',
    name: 'jsonl',
    description: 'Every event as one JSON line on stdout',
    optionsSchema: { type: 'object', additionalProperties: false },
    create: () => new JsonlReporter(process.stdout),
  });
  contribute(bind, {
    kind: 'executor',
    name: 'local',
    description:
      'Runs jobs one after another in this process (ONNX Runtime works in the backend worker thread)',
    optionsSchema: { type: 'object', additionalProperties: false },
    create: () => localExecutorFactory,
  });
});

export const ENGINE_PLUGIN: PluginInfo = {
  name: '@peftkit/engine',
  version: engineVersion(),
  description: 'peftkit engine (built-in reporters and the local executor)',
  dir: ENGINE_DIR,
  origin: 'engine',
  manifest: {
    apiVersion: `^${API_VERSION}`,
    module: './dist/src/plugins/engine-module.js',
    contributes: { reporter: ['jsonl', 'plain', 'quiet', 'tty'], executor: ['local'] },
  },
};
