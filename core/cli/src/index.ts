/** peftkit: the command line (search, train, eval, compare, export, plugins, presets, doctor, bench). */
export { main, formatError } from './cli.js';
export { COMMANDS, type CommandFactory } from './commands/index.js';
export * from './context.js';
export * from './options.js';
export { cliVersion } from './version.js';
