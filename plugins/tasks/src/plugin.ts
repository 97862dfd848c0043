/** The container module of @peftkit/plugin-tasks: contributes the five tasks. */
import { ContainerModule, contribute } from '@peftkit/api';
import { createJsonlTask, createTsvTask, jsonlOptionsSchema, tsvOptionsSchema } from './files.js';
import { createSentimentTask, sentimentOptionsSchema } from './sentiment.js';
import { createSotuPartyTask, sotuOptionsSchema } from './sotu.js';
import { createSpamTask, spamOptionsSchema } from './spam.js';

const SPLIT_NOTE = 'The split depends only on the options (splitSeed), never on the training seed.';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'task',
    name: 'sentiment',
    description:
      'UCI Sentiment Labelled Sentences (Amazon/IMDB/Yelp, 3,000 binary sentences, CC BY 4.0), pooled ' +
      `2,100/300/600 or cross-domain (test on one domain). ${SPLIT_NOTE}`,
    optionsSchema: sentimentOptionsSchema,
    create: (options) => createSentimentTask(options),
  });
  contribute(bind, {
    kind: 'task',
    name: 'spam',
    description:
      'SpamAssassin public corpus (ham vs spam e-mail bodies, headers stripped, duplicates removed), ' +
      `stratified 70/10/20. ${SPLIT_NOTE}`,
    optionsSchema: spamOptionsSchema,
    create: (options) => createSpamTask(options),
  });
  contribute(bind, {
    kind: 'task',
    name: 'sotu-party',
    description:
      'State of the Union sentences, Republican vs Democratic, split by speech 70/10/20 and sampled to ' +
      `4,000/500/1,000 sentences by default. ${SPLIT_NOTE}`,
    optionsSchema: sotuOptionsSchema,
    create: (options) => createSotuPartyTask(options),
  });
  contribute(bind, {
    kind: 'task',
    name: 'tsv',
    description:
      'Your own GLUE-style TSV files (single sentences or pairs, classification or regression); ' +
      `validation held out from train when not given. ${SPLIT_NOTE}`,
    optionsSchema: tsvOptionsSchema,
    create: (options, ctx) => createTsvTask(options, ctx.baseDir),
  });
  contribute(bind, {
    kind: 'task',
    name: 'jsonl',
    description:
      'Your own JSON-lines files (single sentences or pairs, classification or regression); ' +
      `validation held out from train when not given. ${SPLIT_NOTE}`,
    optionsSchema: jsonlOptionsSchema,
    create: (options, ctx) => createJsonlTask(options, ctx.baseDir),
  });
});
