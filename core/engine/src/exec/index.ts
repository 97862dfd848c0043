/** Job execution: workbench, trainer, local executor and the search loop. */
export * from './workbench.js';
export * from './trainer.js';
export * from './jobs.js';
export * from './local-executor.js';
export * from './search-loop.js';
