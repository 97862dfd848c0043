/**
 * @peftkit/plugin-strategy-autopeft: the AutoPEFT baseline (multi-objective Bayesian optimisation
 * with a GP surrogate and expected hypervolume improvement) and its `autopeft` search space.
 */
export * from './configs.js';
export * from './gp.js';
export * from './pareto.js';
export * from './space.js';
export * from './strategy.js';
