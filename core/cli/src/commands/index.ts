/**
 * The commands of `peftkit`, one module each. A command is a factory taking the CLI context and
 * returning a yargs CommandModule; add new ones here.
 */
import type { CommandModule } from 'yargs';
import type { CliContext, GlobalArgs } from '../context.js';
import { doctorCommand } from './doctor.js';
import { pluginCommand } from './plugin.js';
import { pluginsCommand } from './plugins.js';
import { presetsCommand } from './presets.js';
import { searchCommand, trainCommand } from './run.js';
import { evalCommand, exportCommand, predictCommand } from './artifacts.js';
import { compareCommand } from './compare.js';
import { benchCommand } from './bench.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { workerCommand } from './worker.js';

export type CommandFactory = (ctx: CliContext) => CommandModule<GlobalArgs, never>;

export const COMMANDS: readonly CommandFactory[] = [
  searchCommand as CommandFactory,
  trainCommand as CommandFactory,
  evalCommand as CommandFactory,
  predictCommand as CommandFactory,
  exportCommand as CommandFactory,
  compareCommand as CommandFactory,
  statusCommand as CommandFactory,
  workerCommand as CommandFactory,
  benchCommand as CommandFactory,
  serveCommand as CommandFactory,
  pluginsCommand as CommandFactory,
  pluginCommand as CommandFactory,
  presetsCommand as CommandFactory,
  doctorCommand as CommandFactory,
];
