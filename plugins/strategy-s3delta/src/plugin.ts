/**
 * Container module of the S3Delta baseline: the S3PET-M and S3PET-L search spaces and the search
 * strategy, each behind its extension point.
 */
import { ContainerModule, contribute } from '@peftkit/api';
import {
  OneSizeSpace,
  S3PET_L_ENTRIES,
  S3PET_M_ENTRIES,
  type S3SpaceOptions,
  s3SpaceOptionsSchema,
} from './spaces.js';
import { type S3DeltaOptions, s3deltaOptionsSchema } from './options.js';
import { S3DeltaStrategy } from './strategy.js';

export default new ContainerModule(({ bind }) => {
  contribute(bind, {
    kind: 'search-space',
    name: 's3pet-m',
    description:
      'S3Delta S3PET-M: rank-1 LoRA on q/k/v/o and FFN in/out, BitFit on those and the LayerNorms, LNFit, rank-1 low-rank adapters after attention and FFN (on/off only)',
    optionsSchema: s3SpaceOptionsSchema,
    create: (o) => new OneSizeSpace('s3pet-m', S3PET_M_ENTRIES, o as S3SpaceOptions),
  });
  contribute(bind, {
    kind: 'search-space',
    name: 's3pet-l',
    description: 'S3Delta S3PET-L: rank-1 LoRA on q/k/v/o and FFN in/out (on/off only)',
    optionsSchema: s3SpaceOptionsSchema,
    create: (o) => new OneSizeSpace('s3pet-l', S3PET_L_ENTRIES, o as S3SpaceOptions),
  });
  contribute(bind, {
    kind: 'search-strategy',
    name: 's3delta',
    description:
      'S3Delta: shifted global sigmoid gates at the budget, binary-concrete sampling, second-order DARTS',
    optionsSchema: s3deltaOptionsSchema,
    create: (o) => new S3DeltaStrategy(o as S3DeltaOptions),
  });
});
