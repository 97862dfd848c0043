/** Container module of the BullMQ plugin: the `bullmq` executor. */
import { ContainerModule, contribute } from '@peftkit/api';
import { BullmqExecutorFactory } from './executor.js';
import { BULLMQ_OPTIONS_SCHEMA, type BullmqOptions } from './options.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'executor',
    name: 'bullmq',
    description:
      'Runs comparison cells and search trials on `peftkit worker` processes that take them from a BullMQ queue over Redis (a password is required unless insecure)',
    optionsSchema: BULLMQ_OPTIONS_SCHEMA,
    create: (o, ctx) => BullmqExecutorFactory.create(o as unknown as BullmqOptions, ctx.log, ctx.baseDir),
  });
});
