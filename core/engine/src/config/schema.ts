/**
 * JSON Schema of a preset (after `extends` is merged). Unknown keys are errors everywhere;
 * component `options` are validated separately against each component's own schema.
 */

const componentRef = (what: string) => ({
  type: 'object',
  description: `${what}: {name, options}`,
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, description: `registered name of the ${what}` },
    options: { type: 'object', description: `options of the ${what} (see \`peftkit plugins list\`)` },
  },
});

export const RECIPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    epochs: { type: 'integer', minimum: 1, description: 'passes over the training split' },
    batchSize: { type: 'integer', minimum: 1 },
    optimizer: { enum: ['adamw', 'adam', 'sgd'] },
    lr: { type: 'number', exclusiveMinimum: 0, description: 'learning rate' },
    headLr: { type: 'number', exclusiveMinimum: 0, description: 'learning rate of the task head' },
    weightDecay: { type: 'number', minimum: 0 },
    betas: {
      type: 'array',
      minItems: 2,
      maxItems: 2,
      items: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      description: 'Adam betas [beta1, beta2]',
    },
    eps: { type: 'number', exclusiveMinimum: 0 },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    schedule: { enum: ['linear', 'cosine', 'constant'] },
    warmupRatio: { type: 'number', minimum: 0, maximum: 1 },
    clipNorm: {
      type: ['number', 'null'],
      exclusiveMinimum: 0,
      description: 'global gradient-norm clip (null: none)',
    },
    evalEvery: { type: 'integer', minimum: 1 },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    maxSteps: { type: 'integer', minimum: 1 },
    groupByLength: {
      type: 'boolean',
      description: 'batch examples of similar length together (less padding, same data per epoch)',
    },
  },
} as const;

export const MODULE_CHOICE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'point', 'rank'],
  properties: {
    type: { type: 'string', minLength: 1, description: 'PEFT module type (lora, adapter, ...)' },
    point: { type: 'string', minLength: 1, description: 'attachment point (layer.0.attn.q, ...)' },
    rank: {
      type: ['integer', 'null'],
      minimum: 1,
      description: 'rank, bottleneck or prefix length; null if unranked',
    },
    options: { type: 'object' },
  },
} as const;

export const TARGET_SPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'targets'],
  properties: {
    type: { type: 'string', minLength: 1, description: 'PEFT module type' },
    targets: {
      type: ['string', 'array'],
      items: { type: 'string', minLength: 1 },
      minLength: 1,
      description: 'glob pattern(s) over attachment points (`layer.*.attn.[qv]`)',
    },
    rank: { type: 'integer', minimum: 1, description: 'rank of every matched point (ranked types)' },
    rankPattern: {
      type: 'object',
      additionalProperties: { type: 'integer', minimum: 1 },
      description: 'per-point ranks: glob pattern -> rank (first match wins), as PEFT rank_pattern',
    },
    options: { type: 'object', description: 'options of the module type' },
  },
} as const;

export const ARCHITECTURE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    modules: { type: 'array', items: MODULE_CHOICE_SCHEMA },
    targets: { type: 'array', items: TARGET_SPEC_SCHEMA },
  },
} as const;

const COMPONENT_SHAPE = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, options: { type: 'object' } },
} as const;

/** `compare:` of a comparison preset: the grid of strategies x tasks x budgets x seeds. */
export const COMPARE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['strategies'],
  properties: {
    strategies: {
      type: 'array',
      minItems: 1,
      description: 'the strategies to compare, each with a label',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['label', 'strategy'],
        properties: {
          label: {
            type: 'string',
            pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
            description: 'name in tables and plots',
          },
          strategy: { ...COMPONENT_SHAPE, description: 'search strategy' },
          space: { ...COMPONENT_SHAPE, description: 'its search space (when it uses one)' },
          matchComputeOf: {
            type: 'string',
            description:
              'label of a strategy whose search compute this one matches (random search: computeSteps = its gradient jobs)',
          },
          recipes: {
            type: 'object',
            additionalProperties: false,
            properties: { search: RECIPE_SCHEMA, retrain: RECIPE_SCHEMA },
            description: 'recipe fields that differ for this strategy',
          },
        },
      },
    },
    tasks: {
      type: 'array',
      minItems: 1,
      items: COMPONENT_SHAPE,
      description: 'tasks (default: the preset task)',
    },
    budgets: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 1,
        properties: {
          params: { type: 'integer', minimum: 1 },
          ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        },
      },
      description: 'budgets (default: the preset budget)',
    },
  },
} as const;

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['backbone', 'task'],
  properties: {
    description: { type: 'string' },
    plugins: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'extra plugin packages or directories',
    },
    backbone: componentRef('backbone'),
    task: componentRef('task'),
    space: componentRef('search space'),
    strategy: componentRef('search strategy'),
    budget: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      description: 'exactly one of params (absolute count) or ratio (fraction of the backbone)',
      properties: {
        params: { type: 'integer', minimum: 1, description: 'maximum trainable PEFT parameters' },
        ratio: {
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 1,
          description: 'fraction of the backbone parameters',
        },
      },
    },
    architecture: {
      ...ARCHITECTURE_SCHEMA,
      type: ['string', 'object'],
      minLength: 1,
      description: 'inline {modules: [...]} or the path of a JSON file holding it',
    },
    initAdapter: {
      type: 'string',
      minLength: 1,
      description:
        'train: a Hugging Face PEFT LoRA adapter directory (relative to the preset) made for the backbone: its LoRA modules are the architecture and its weights (and head) the starting point',
    },
    seeds: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'integer', minimum: 0, maximum: 4294967295 },
    },
    recipes: {
      type: 'object',
      additionalProperties: false,
      properties: { search: RECIPE_SCHEMA, retrain: RECIPE_SCHEMA },
    },
    backend: componentRef('training backend'),
    executor: componentRef('executor'),
    compare: COMPARE_SCHEMA,
    memory: {
      type: 'object',
      additionalProperties: false,
      properties: {
        passMiB: {
          type: 'integer',
          minimum: 1,
          description:
            'MiB of intermediate tensors one forward/backward pass may take (estimated from the program before it runs). Larger batches run in several passes whose gradients are averaged: the same step, less memory, a little slower. Evaluation passes take a quarter of it. Default 64.',
        },
        limitMiB: {
          type: 'integer',
          minimum: 1,
          description:
            "MiB of memory the whole process may use. Before each program is compiled, the memory it will add (a copy of the frozen weights and one pass's intermediate tensors) is checked against what is left, and the run stops with what to lower instead of being killed by the OS. Unset: the memory the machine has available, or less under a cgroup memory limit.",
        },
      },
    },
    output: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: { type: 'string', minLength: 1, description: 'directory that holds run directories' },
        name: {
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
          description: 'run name (letters, digits, ".", "_", "-")',
        },
        tensorboard: {
          type: 'boolean',
          description: 'write TensorBoard event files under <run>/tensorboard/ (default true)',
        },
      },
    },
  },
} as const;
