/** @peftkit/plugin-strategy-autopeft: AutoPEFT-style multi-objective Bayesian optimisation (GP surrogate, expected hypervolume improvement). */
export {};
