/**
 * Bad data files, bad model files, damaged or contended run directories and misbehaving plugins.
 * Each fails with exit code 1 and a message naming the file (and line), the run directory, or the
 * plugin and its hook; a run directory that existed before is left exactly as it was.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HANG_PLUGIN, type FuzzCase, templates, tinyPreset, write } from './harness.js';

const utf16 = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);

// ---------------------------------------------------------------------------------------- data

type Format = 'tsv' | 'jsonl';

const GOOD: Record<Format, (rows: Array<[string, string | number]>) => string> = {
  tsv: (rows) => `text\tlabel\n${rows.map(([t, l]) => `${t}\t${l}`).join('\n')}\n`,
  jsonl: (rows) => `${rows.map(([t, l]) => JSON.stringify({ text: t, label: l })).join('\n')}\n`,
};
const TRAIN: Array<[string, number]> = Array.from({ length: 12 }, (_, i) => [
  i % 2 ? 'good fine great' : 'bad awful poor',
  i % 2,
]);

/**
 * The tiny preset with the `format` task reading train.<f> (good), and test.<f> / validation.<f>
 * from `files` (role → content); `options` are further task options in YAML flow syntax.
 */
function dataCase(
  format: Format,
  name: string,
  files: Partial<Record<'train' | 'validation' | 'test', string | Uint8Array>>,
  place: RegExp,
  options = '',
): FuzzCase {
  return {
    family: 'data',
    name: `${format}: ${name}`,
    code: 1,
    place,
    setup: (dir) => {
      const content = { train: GOOD[format](TRAIN), test: GOOD[format](TRAIN.slice(0, 4)), ...files };
      for (const [role, body] of Object.entries(content)) write(dir, `${role}.${format}`, body);
      const validation = files.validation !== undefined ? `, validation: validation.${format}` : '';
      tinyPreset(
        dir,
        {
          task: `{ name: ${format}, options: { train: train.${format}, test: test.${format}${validation}${options} } }`,
        },
        'p.yaml',
      );
      return ['search', '--preset', './p.yaml'];
    },
  };
}

function dataCases(f: Format): FuzzCase[] {
  const file = (role: string) => new RegExp(`${role}\\.${f}`);
  const at = (role: string, line: number) => new RegExp(`${role}\\.${f}:${line}: `);
  const row = (t: string, l: string | number) => GOOD[f]([[t, l]]);
  const firstRow = f === 'tsv' ? 2 : 1;
  return [
    dataCase(
      f,
      'UTF-16 test file',
      { test: utf16(GOOD[f](TRAIN)) },
      /test\.\w+: test data: the file is UTF-16/,
    ),
    dataCase(
      f,
      'NUL bytes in the train file',
      { train: Buffer.concat([Buffer.from(GOOD[f](TRAIN)), Buffer.from([0, 0])]) },
      /train\.\w+: train data: the file holds a NUL byte/,
    ),
    dataCase(
      f,
      'Latin-1 test file',
      { test: Buffer.from(row('caf\u00e9', 1), 'latin1') },
      /test\.\w+: test data: the file is not valid UTF-8/,
    ),
    dataCase(f, 'empty test file', { test: '' }, /test\.\w+: test data: file is empty/),
    dataCase(f, 'whitespace-only test file', { test: '\n \n\t\n' }, file('test')),
    dataCase(
      f,
      'a label only the test data has',
      { test: row('neutral text', 7) },
      new RegExp(`${at('test', firstRow).source}label 7 does not occur in the training data`),
    ),
    dataCase(
      f,
      'a label only the validation data has',
      { validation: row('neutral text', 3) },
      new RegExp(`${at('validation', firstRow).source}label 3 does not occur`),
    ),
    dataCase(
      f,
      'a label of 2,000,000',
      { train: GOOD[f]([...TRAIN, ['huge', 2_000_000]]) },
      new RegExp(`${at('train', firstRow + 12).source}.*class index .*2000000.* above the limit of 9999`),
    ),
    dataCase(
      f,
      'a 20-digit label',
      { test: row('x y', '12345678901234567890') },
      /test\.\w+:\d+: .*(above the limit|not a class index)/,
    ),
    dataCase(f, 'a negative label', { test: row('x y', -1) }, /test\.\w+:\d+: .*-1.* is not a class index/),
    dataCase(
      f,
      'a word label without `labels`',
      { test: row('x y', 'positive') },
      /test\.\w+:\d+: .*"positive".* is not a class index/,
    ),
    dataCase(
      f,
      'a label outside `labels`',
      { train: GOOD[f](TRAIN.map(([t, l]) => [t, l ? 'pos' : 'neg'])), test: row('x', 'neutral') },
      /test\.\w+:\d+: .*unknown label "neutral"; expected one of "neg", "pos"/,
      ', labels: [neg, pos]',
    ),
    dataCase(
      f,
      'a NaN regression target',
      { test: row('x y', 'NaN') },
      /test\.\w+:\d+: .*NaN \(not finite\)/,
      ', type: regression',
    ),
    dataCase(
      f,
      'an infinite regression target',
      { test: row('x y', 'Infinity') },
      /test\.\w+:\d+: .*Infinity \(not finite\)/,
      ', type: regression',
    ),
    {
      ...dataCase(f, 'a missing test file', {}, /no-such\.\w+: test data: file not found/),
      setup: (dir) => {
        const argv = dataCase(f, '', {}, /x/).setup(dir);
        const p = readFileSync(join(dir, 'p.yaml'), 'utf8').replace(`test: test.${f}`, `test: no-such.${f}`);
        writeFileSync(join(dir, 'p.yaml'), p);
        return argv;
      },
    },
    {
      ...dataCase(f, 'a directory as the test file', {}, /x/),
      place: /test\.\w+: test data: is a directory, not a file/,
      setup: (dir) => {
        const argv = dataCase(f, '', {}, /x/).setup(dir);
        unlinkSync(join(dir, `test.${f}`));
        mkdirSync(join(dir, `test.${f}`));
        return argv;
      },
    },
    ...(f === 'tsv'
      ? [
          dataCase(
            f,
            'a row with too few columns',
            { test: 'text\tlabel\nonly text\n' },
            /test\.tsv:2: expected 2 tab-separated columns/,
          ),
          dataCase(
            f,
            'a row with too many columns',
            { test: 'text\tlabel\na\t1\textra\n' },
            /test\.tsv:2: expected 2 tab-separated columns .* extra field/,
          ),
          dataCase(
            f,
            'a header without the label column',
            { test: 'text\tclass\na\t1\n' },
            /test\.tsv:1: column 'label' \(option labelColumn\) is not in the header/,
          ),
          dataCase(
            f,
            'header only',
            { test: 'text\tlabel\n' },
            /test\.tsv: test data: no rows after the header/,
          ),
          dataCase(
            f,
            'an empty text field',
            { test: 'text\tlabel\n\t1\n' },
            /test\.tsv:2: column 'text' is empty/,
          ),
          dataCase(
            f,
            'a CR-only file with a bad label on line 3',
            { test: 'text\tlabel\ra\t1\rb\t9\r' },
            /test\.tsv:3: label 9 does not occur/,
          ),
        ]
      : [
          dataCase(
            f,
            'invalid JSON on line 2',
            { test: `${row('a', 1)}{"text": "b",\n` },
            /test\.jsonl:2: invalid JSON/,
          ),
          dataCase(
            f,
            'an array line',
            { test: '[1, 2]\n' },
            /test\.jsonl:1: expected a JSON object, found an array/,
          ),
          dataCase(
            f,
            'a missing text field',
            { test: '{"label": 1}\n' },
            /test\.jsonl:1: field 'text' \(textColumn\) is missing/,
          ),
          dataCase(
            f,
            'a numeric text field',
            { test: '{"text": 5, "label": 1}\n' },
            /test\.jsonl:1: field 'text' is 5; expected a non-empty string/,
          ),
          dataCase(
            f,
            'a null label',
            { test: '{"text": "a", "label": null}\n' },
            /test\.jsonl:1: field 'label' \(labelColumn\) is missing/,
          ),
          dataCase(
            f,
            'an object label',
            { test: '{"text": "a", "label": {"x": 1}}\n' },
            /test\.jsonl:1: field 'label': .* is not a class index/,
          ),
        ]),
  ];
}

// -------------------------------------------------------------------------------------- models

/** The tiny preset on the `hf` backbone, with a copy of the template checkpoint damaged by `damage`. */
function modelCase(name: string, damage: (ckpt: string) => void, place: RegExp): FuzzCase {
  return {
    family: 'model',
    name,
    code: 1,
    place,
    setup: (dir) => {
      const ckpt = join(dir, 'ckpt');
      cpSync(templates.hfCheckpoint, ckpt, { recursive: true });
      damage(ckpt);
      tinyPreset(dir, { backbone: '{ name: hf, options: { path: ./ckpt } }' }, 'p.yaml');
      return ['search', '--preset', './p.yaml'];
    },
  };
}

const replace = (file: string) => (content: string | Uint8Array) => (ckpt: string) =>
  writeFileSync(join(ckpt, file), content);

/** Remove model.safetensors and write an index mapping one tensor to `shard`. */
const indexTo = (weightMap: unknown) => (ckpt: string) => {
  rmSync(join(ckpt, 'model.safetensors'));
  writeFileSync(join(ckpt, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
};

const MODEL_CASES: FuzzCase[] = [
  modelCase(
    'config.json in UTF-16',
    (c) => replace('config.json')(utf16(readFileSync(join(c, 'config.json'), 'utf8')))(c),
    /ckpt\/config\.json: config\.json: the file is UTF-16/,
  ),
  modelCase(
    'config.json with NUL bytes',
    replace('config.json')(Buffer.from('{"a":\0}')),
    /ckpt\/config\.json: config\.json: the file holds a NUL byte/,
  ),
  modelCase('config.json not JSON', replace('config.json')('{"model_type": "bert",'), /ckpt\/config\.json/),
  modelCase('config.json missing', (c) => rmSync(join(c, 'config.json')), /ckpt\/config\.json: missing file/),
  modelCase('config.json a list', replace('config.json')('[1, 2]'), /ckpt\/config\.json/),
  modelCase('tokenizer.json not JSON', replace('tokenizer.json')('{"model": '), /ckpt\/tokenizer\.json/),
  modelCase(
    'tokenizer.json Latin-1',
    replace('tokenizer.json')(Buffer.from([0x7b, 0xe9, 0x7d])),
    /ckpt\/tokenizer\.json: tokenizer\.json: the file is not valid UTF-8/,
  ),
  modelCase(
    'tokenizer.json missing',
    (c) => rmSync(join(c, 'tokenizer.json')),
    /ckpt\/tokenizer\.json: missing file/,
  ),
  modelCase(
    'model.safetensors truncated',
    (c) => {
      const b = readFileSync(join(c, 'model.safetensors'));
      writeFileSync(join(c, 'model.safetensors'), b.subarray(0, b.length >> 1));
    },
    /ckpt\/model\.safetensors/,
  ),
  modelCase(
    'model.safetensors with a huge header length',
    replace('model.safetensors')(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x7b, 0x7d])),
    /ckpt\/model\.safetensors/,
  ),
  modelCase(
    'model.safetensors garbage',
    replace('model.safetensors')(Buffer.from('not a tensor file at all, really')),
    /ckpt\/model\.safetensors/,
  ),
  modelCase(
    'no weights at all',
    (c) => rmSync(join(c, 'model.safetensors')),
    /ckpt\/model\.safetensors: missing file/,
  ),
  modelCase(
    'a shard index reaching outside the checkpoint',
    indexTo({ 'embeddings.word_embeddings.weight': '../../../etc/passwd' }),
    /ckpt\/model\.safetensors\.index\.json: weight_map\["embeddings\.word_embeddings\.weight"\] is "\.\.\/\.\.\/\.\.\/etc\/passwd"; expected the name of a shard file inside the checkpoint directory/,
  ),
  modelCase(
    'an absolute shard path',
    indexTo({ w: '/etc/hostname' }),
    /index\.json: weight_map\["w"\] is "\/etc\/hostname"; expected the name of a shard file inside/,
  ),
  modelCase('a numeric shard name', indexTo({ w: 7 }), /index\.json: weight_map\["w"\] is 7/),
  modelCase(
    'weight_map a list',
    indexTo(['a.safetensors']),
    /index\.json: not a safetensors index: no "weight_map" object/,
  ),
  modelCase(
    'a missing shard',
    indexTo({ w: 'model-00001-of-00002.safetensors' }),
    /model-00001-of-00002\.safetensors: missing file/,
  ),
  modelCase(
    'a checkpoint path that does not exist',
    (c) => rmSync(c, { recursive: true }),
    /backbone\.options\.path: checkpoint directory not found/,
  ),
];

// ------------------------------------------------------------------------------- run directories

/** A copy of the finished template run as ./run, damaged by `damage`, then `args` run on it. */
function runDirCase(
  name: string,
  damage: (run: string) => void,
  place: RegExp,
  args: (run: string) => string[] = (run) => ['search', '--resume', run],
): FuzzCase {
  return {
    family: 'rundir',
    name,
    code: 1,
    place,
    setup: (dir) => {
      const run = join(dir, 'run');
      cpSync(templates.finishedRun, run, { recursive: true });
      damage(run);
      return args('run');
    },
  };
}

const unfinished = (run: string) => rmSync(join(run, 'result.json'));
const both =
  (...fs: Array<(run: string) => void>) =>
  (run: string) =>
    fs.forEach((f) => f(run));
const editConfig = (edit: (c: Record<string, unknown>) => void) => (run: string) => {
  const file = join(run, 'config.json');
  const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(c);
  writeFileSync(file, JSON.stringify(c, null, 2));
};
const lockedBy =
  (pid: number, host = hostname()) =>
  (run: string) =>
    writeFileSync(
      join(run, '.lock'),
      JSON.stringify({ pid, host, since: '2026-01-01T00:00:00.000Z', command: 'peftkit search --resume' }),
    );

const RUNDIR_CASES: FuzzCase[] = [
  runDirCase('a finished run', () => {}, /run: run .* has already finished \(result\.json exists\)/),
  runDirCase(
    'no run.json',
    both(unfinished, (r) => rmSync(join(r, 'run.json'))),
    /run: not a peftkit run directory: it has no run\.json/,
  ),
  runDirCase(
    'run.json not JSON',
    both(unfinished, (r) => writeFileSync(join(r, 'run.json'), '{"name":')),
    /run\/run\.json: run\.json is not valid JSON/,
  ),
  runDirCase(
    'run.json without a seed',
    both(unfinished, (r) => writeFileSync(join(r, 'run.json'), '{"name": "x"}')),
    /run\/run\.json: run\.json lacks name, seed or startedAt/,
  ),
  runDirCase(
    'no config.json',
    both(unfinished, (r) => rmSync(join(r, 'config.json'))),
    /run: run directory has no config\.json/,
  ),
  runDirCase(
    'config.json not JSON',
    both(unfinished, (r) => writeFileSync(join(r, 'config.json'), '{"seeds": [1,')),
    /run\/config\.json:\d+: invalid YAML/,
  ),
  runDirCase(
    'config.json in UTF-16',
    both(unfinished, (r) =>
      writeFileSync(join(r, 'config.json'), utf16(readFileSync(join(r, 'config.json'), 'utf8'))),
    ),
    /run\/config\.json: .*UTF-16/,
  ),
  runDirCase(
    'config.json with another budget',
    both(
      unfinished,
      editConfig((c) => (c.budget = { params: 399 })),
    ),
    /run\/config\.json: the configuration differs from the one checkpoint .* was written with .*config\.json was replaced or edited/,
  ),
  runDirCase(
    'config.json with another recipe',
    both(
      unfinished,
      editConfig((c) => ((c.recipes as { retrain: { lr: number } }).retrain.lr = 0.5)),
    ),
    /run\/config\.json: the configuration differs/,
  ),
  runDirCase(
    'config.json of another preset',
    both(
      unfinished,
      editConfig(
        (c) =>
          ((c.task as { options: Record<string, number> }).options = { train: 40, validation: 16, test: 16 }),
      ),
    ),
    /run\/config\.json: the configuration differs/,
  ),
  runDirCase(
    'config.json with an invalid value',
    both(
      unfinished,
      editConfig((c) => (c.seeds = [-1])),
    ),
    /run\/config\.json:\d+: seeds\[0\]/,
  ),
  runDirCase(
    'checkpoints/ deleted',
    both(unfinished, (r) => rmSync(join(r, 'checkpoints'), { recursive: true })),
    /run: the run checkpointed at .* but .*checkpoints now holds no checkpoint \(deleted\?\)/,
  ),
  runDirCase(
    'every checkpoint damaged',
    both(unfinished, (r) => {
      for (const c of readdirSync(join(r, 'checkpoints')))
        writeFileSync(join(r, 'checkpoints', c), 'garbage');
    }),
    /run\/checkpoints: no readable checkpoint/,
  ),
  runDirCase(
    'a corrupt journal line',
    both(unfinished, (r) => {
      const f = join(r, 'journal.jsonl');
      const lines = readFileSync(f, 'utf8').split('\n');
      lines[1] = '{"seq": oops';
      writeFileSync(f, lines.join('\n'));
    }),
    /run\/journal\.jsonl:2: corrupt journal record/,
  ),
  runDirCase(
    'locked by a live process',
    both(unfinished, lockedBy(process.ppid)),
    new RegExp(
      `run: the run directory .* is in use by process ${process.ppid} on ${hostname()} \\(peftkit search --resume\\)`,
    ),
  ),
  runDirCase(
    'locked from another host',
    both(unfinished, lockedBy(4242, 'build-node-7')),
    /run: the run directory .* is in use by process 4242 on build-node-7 .*delete .*\.lock/,
  ),
  runDirCase(
    'resumed by the other command',
    unfinished,
    /run: run .* was started by `peftkit search`; resume it with `peftkit search --resume/,
    (run) => ['train', '--resume', run],
  ),
  runDirCase(
    'compare --resume of a run directory',
    () => {},
    /run: not a comparison directory/,
    (run) => ['compare', '--resume', run],
  ),
  runDirCase('eval of an unfinished run', unfinished, /run/, (run) => ['eval', run]),
  runDirCase(
    'export --out an existing file',
    (r) => writeFileSync(join(r, '..', 'out.txt'), 'keep me'),
    /out\.txt is an existing file; expected a directory/,
    (run) => ['export', run, '--out', 'out.txt'],
  ),
];

// ------------------------------------------------------------------------------------- plugins

function pluginCase(name: string, strategyOptions: string, place: RegExp): FuzzCase {
  return {
    family: 'plugin',
    name,
    code: 1,
    place,
    setup: (dir) => {
      tinyPreset(dir);
      write(
        dir,
        'p.yaml',
        `extends: ./tiny.yaml\nbackend: { name: fuzz-backend }\nstrategy: { options: ${strategyOptions} }\n`,
      );
      return ['search', '--preset', './p.yaml'];
    },
  };
}

const HOOK_CASES = (['start', 'ask', 'tell', 'state', 'outcome'] as const).flatMap((hook) =>
  (hook === 'ask' || hook === 'tell' ? (['plain', 'type'] as const) : (['plain'] as const)).map((kind) =>
    pluginCase(
      `strategy ${hook} throws a ${kind === 'type' ? 'TypeError' : 'plain Error'}`,
      `{ fail: ${hook}, errorKind: ${kind} }`,
      new RegExp(`plugin peftkit-fuzz-plugin \\(search-strategy fuzz-strategy: ${hook}\\): fuzz: ${hook}`),
    ),
  ),
);

const PLUGIN_CASES: FuzzCase[] = [
  ...HOOK_CASES,
  pluginCase(
    'an outcome at an unknown point',
    '{ outcome: unknown-point }',
    /plugin peftkit-fuzz-plugin \(search-strategy fuzz-strategy: outcome\): returned an architecture the engine cannot count: .*no attachment point "no\.such\.point"/,
  ),
  pluginCase(
    'an outcome of an unknown module type',
    '{ outcome: unknown-type }',
    /search-strategy fuzz-strategy: outcome\): returned an architecture the engine cannot count: .*unknown PEFT module type "no-such-type"/,
  ),
  pluginCase(
    'an outcome over the budget',
    '{ outcome: over-budget }',
    /search-strategy fuzz-strategy: outcome\): returned an architecture with \d+ trainable parameters, over the budget of 400/,
  ),
  pluginCase(
    'a malformed outcome',
    '{ outcome: malformed }',
    /search-strategy fuzz-strategy: outcome\): returned .*; expected \{architecture: \{modules: \[\.\.\.\]\}\}/,
  ),
  pluginCase(
    'no outcome',
    '{ outcome: nothing }',
    /search-strategy fuzz-strategy: outcome\): returned nothing/,
  ),
  {
    family: 'plugin',
    name: 'a plugin whose import never settles',
    code: 1,
    place: /plugin peftkit-hang-plugin \(import\): importing .*plugin\.js did not finish within 1 s/,
    setup: (dir) => {
      process.env.PEFTKIT_PLUGIN_IMPORT_TIMEOUT = '1';
      tinyPreset(dir);
      write(dir, 'p.yaml', `extends: ./tiny.yaml\nplugins: [${JSON.stringify(HANG_PLUGIN)}]\n`);
      return ['search', '--preset', './p.yaml'];
    },
  },
  {
    family: 'plugin',
    name: 'a plugin directory without package.json',
    code: 1,
    place: /plugin .*empty-plugin.*package\.json/,
    setup: (dir) => {
      mkdirSync(join(dir, 'empty-plugin'));
      tinyPreset(dir);
      write(dir, 'p.yaml', 'extends: ./tiny.yaml\nplugins: [./empty-plugin]\n');
      return ['search', '--preset', './p.yaml'];
    },
  },
  {
    family: 'plugin',
    name: 'a plugin whose module is not a ContainerModule',
    code: 1,
    place: /plugin bad-module \(import\): plugin\.js must default-export a ContainerModule/,
    setup: (dir) => {
      const p = join(dir, 'bad-module');
      mkdirSync(p);
      write(
        p,
        'package.json',
        JSON.stringify({
          name: 'bad-module',
          version: '1.0.0',
          type: 'module',
          peftkit: { apiVersion: '^0.1.0', module: 'plugin.js', contributes: {} },
        }),
      );
      write(p, 'plugin.js', 'export default 42;\n');
      tinyPreset(dir);
      write(dir, 'p.yaml', 'extends: ./tiny.yaml\nplugins: [./bad-module]\n');
      return ['search', '--preset', './p.yaml'];
    },
  },
  {
    family: 'plugin',
    name: 'a plugin whose module throws on import',
    code: 1,
    place: /plugin throws-on-import \(import\): cannot import .*plugin\.js: no GPU here/,
    setup: (dir) => {
      const p = join(dir, 'throws-on-import');
      mkdirSync(p);
      write(
        p,
        'package.json',
        JSON.stringify({
          name: 'throws-on-import',
          version: '1.0.0',
          type: 'module',
          peftkit: { apiVersion: '^0.1.0', module: 'plugin.js', contributes: {} },
        }),
      );
      write(p, 'plugin.js', 'throw new Error("no GPU here");\n');
      tinyPreset(dir);
      write(dir, 'p.yaml', 'extends: ./tiny.yaml\nplugins: [./throws-on-import]\n');
      return ['search', '--preset', './p.yaml'];
    },
  },
];

export const FILE_CASES: FuzzCase[] = [
  ...dataCases('tsv'),
  ...dataCases('jsonl'),
  ...MODEL_CASES,
  ...RUNDIR_CASES,
  ...PLUGIN_CASES,
];
