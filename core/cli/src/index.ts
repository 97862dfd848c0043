/** peftkit: The peftkit command line: search, train, eval, compare, export, plugins, presets, doctor, bench. */
export {};
