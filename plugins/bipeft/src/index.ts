/** @peftkit/plugin-bipeft: BIPEFT: S1/S2 search spaces, sensitivity importance, budget scheduler with progressive pruning and rank freezing, and the iterative search strategy. */
export {};
