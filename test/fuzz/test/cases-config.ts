/**
 * Bad presets, bad `--set` overrides and bad command lines. Each fails before anything runs (exit 1,
 * or 2 for usage errors) with a message naming the file and line, the field or the option.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type FuzzCase, tinyPreset, write } from './harness.js';

/** A preset `p.yaml` extending the tiny one with `body`, run with `search`. */
function presetCase(name: string, body: string | Uint8Array, place: RegExp, code = 1): FuzzCase {
  return {
    family: 'preset',
    name,
    code,
    place,
    setup: (dir) => {
      tinyPreset(dir);
      write(dir, 'p.yaml', typeof body === 'string' ? `extends: ./tiny.yaml\n${body}` : body);
      return ['search', '--preset', './p.yaml'];
    },
  };
}

/** The tiny preset with `--set` arguments. */
function setCase(name: string, sets: string[], place: RegExp, code = 1): FuzzCase {
  return {
    family: 'set',
    name,
    code,
    place,
    setup: (dir) => {
      tinyPreset(dir);
      return ['search', '--preset', './tiny.yaml', ...sets.flatMap((s) => ['--set', s])];
    },
  };
}

function cliCase(name: string, args: (dir: string) => string[], place: RegExp, code = 2): FuzzCase {
  return { family: 'cli', name, code, place, setup: (dir) => (tinyPreset(dir), args(dir)) };
}

const utf16 = (s: string, le = true) => {
  const body = Buffer.from(s, 'utf16le');
  if (!le) body.swap16();
  return Buffer.concat([Buffer.from(le ? [0xff, 0xfe] : [0xfe, 0xff]), body]);
};

const nested = (depth: number) => `x: ${'['.repeat(depth)}1${']'.repeat(depth)}\n`;
const laughs = () => {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++) {
    const prev = `*a${i - 1}`;
    lines.push(`a${i}: &a${i} [${new Array(9).fill(prev).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
};
const P = /p\.yaml:\d+/;

export const CONFIG_CASES: FuzzCase[] = [
  // YAML syntax and structure
  presetCase('unclosed flow sequence', 'seeds: [1, 2\n', P),
  presetCase('unterminated quoted string', 'description: "no end\n', P),
  presetCase('tab indentation', 'recipes:\n\tsearch: {}\n', P),
  presetCase('bad indentation', 'budget:\n  params: 3\n bad: 1\n', P),
  presetCase('a key without a value separator', 'budget { params: 1 }\n', P),
  presetCase('a stray document end marker', 'seeds: [1]\n...\nseeds: [2]\n', P),
  presetCase('duplicate key', 'seeds: [1]\nseeds: [2]\n', /p\.yaml:3: duplicate key "seeds"/),
  presetCase(
    'top level a list',
    new TextEncoder().encode('- 1\n- 2\n'),
    /p\.yaml: a preset must be a mapping/,
  ),
  presetCase(
    'top level a scalar',
    new TextEncoder().encode('hello\n'),
    /p\.yaml: a preset must be a mapping/,
  ),
  presetCase('empty file', new Uint8Array(0), /p\.yaml: a preset must be a mapping/),
  presetCase('a complex mapping key', '? [a, b]\n: 1\n', /p\.yaml:\d+: mapping keys must be plain strings/),
  presetCase('an unresolved alias', 'seeds: *nothing\n', P),
  presetCase('a self-referencing alias', 'a: &x [*x]\n', P),
  // Bounds
  presetCase('billion laughs', laughs(), /p\.yaml:\d+: more than 100(,000)? (alias uses|values)/),
  presetCase(
    'more aliases than the limit',
    `a: &v 1\nb: [${new Array(150).fill('*v').join(', ')}]\n`,
    /p\.yaml:\d+: more than 100 alias uses/,
  ),
  presetCase('nesting 100 deep', nested(100), /p\.yaml(:\d+)?: nesting too deep \(the limit is 64 levels\)/),
  presetCase('nesting 20000 deep', nested(20000), /p\.yaml(:\d+)?: nesting too deep/),
  presetCase(
    'a 2 MB preset',
    `description: "${'x'.repeat(2 * 1024 * 1024)}"\n`,
    /p\.yaml: the file is \d+ bytes, over the limit of 1048576 bytes/,
  ),
  presetCase(
    '50,000 unknown keys',
    Array.from({ length: 50_000 }, (_, i) => `k${i}: ${i}`).join('\n'),
    /50,000 problems in the configuration:[\s\S]*p\.yaml:2: k0: unknown key "k0"[\s\S]*and 49,980 more/,
  ),
  presetCase(
    '300 bad seeds',
    `seeds: [${Array.from({ length: 300 }, () => '-1').join(', ')}]\n`,
    /p\.yaml:\d+: seeds\[0\]: expected a number >= 0[\s\S]*and \d+ more/,
  ),
  // Keys that reach Object.prototype
  presetCase(
    '__proto__ at the top level',
    '__proto__: { x: 1 }\n',
    /p\.yaml:2: the key "__proto__" is not allowed/,
  ),
  presetCase(
    '__proto__ in options',
    'strategy: { name: fuzz-strategy, options: { __proto__: 1 } }\n',
    /p\.yaml:2: the key "__proto__"/,
  ),
  presetCase('constructor key', 'constructor: 1\n', /p\.yaml:2: the key "constructor"/),
  presetCase(
    'prototype key nested',
    'recipes: { search: { prototype: 1 } }\n',
    /p\.yaml:2: the key "prototype"/,
  ),
  presetCase('quoted __proto__ key', '"__proto__": 1\n', /p\.yaml:2: the key "__proto__"/),
  // Encodings
  presetCase(
    'UTF-16 LE with BOM',
    utf16('seeds: [1]\n'),
    /p\.yaml: .*UTF-16 \(it starts with the byte-order mark FF FE\)/,
  ),
  presetCase('UTF-16 BE with BOM', utf16('seeds: [1]\n', false), /p\.yaml: .*UTF-16 .*FE FF/),
  presetCase('NUL bytes', Buffer.from('seeds: [1]\n\0\0\0'), /p\.yaml: .*NUL byte at offset 11/),
  presetCase(
    'invalid UTF-8',
    Buffer.from([0x73, 0x3a, 0x20, 0xc3, 0x28, 0x0a]),
    /p\.yaml: .*not valid UTF-8 \(at byte 3\)/,
  ),
  presetCase(
    'a binary file',
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    /p\.yaml: .*NUL byte/,
  ),
  // Values
  presetCase('budget NaN', 'budget: { params: .nan }\n', /p\.yaml:2: budget(\.params)?: .*NaN/),
  presetCase('budget Infinity', 'budget: { params: .inf }\n', /p\.yaml:2: budget(\.params)?: .*Infinity/),
  presetCase(
    'budget -Infinity ratio',
    'budget: { ratio: -.inf }\n',
    /p\.yaml:2: budget(\.ratio)?: .*-Infinity/,
  ),
  presetCase('budget negative', 'budget: { params: -5 }\n', /p\.yaml:2: budget/),
  presetCase('budget a string', 'budget: lots\n', /p\.yaml:2: budget/),
  presetCase('budget ratio above 1', 'budget: { ratio: 2 }\n', /p\.yaml:2: budget/),
  presetCase('budget with params and ratio', 'budget: { params: 10, ratio: 0.1 }\n', /p\.yaml:2: budget/),
  presetCase('seeds a string', 'seeds: many\n', /p\.yaml:2: seeds: expected a list/),
  presetCase('seeds fractional', 'seeds: [1.5]\n', /p\.yaml:2: seeds\[0\]/),
  presetCase('seeds empty', 'seeds: []\n', /p\.yaml:2: seeds/),
  presetCase('recipe lr negative', 'recipes: { search: { lr: -1 } }\n', /p\.yaml:2: recipes\.search\.lr/),
  presetCase(
    'recipe lr infinite',
    'recipes: { retrain: { lr: .inf } }\n',
    /p\.yaml:2: recipes\.retrain\.lr: .*Infinity/,
  ),
  presetCase(
    'recipe epochs zero',
    'recipes: { search: { epochs: 0 } }\n',
    /p\.yaml:2: recipes\.search\.epochs/,
  ),
  presetCase(
    'recipe batch size a string',
    'recipes: { search: { batchSize: "16" } }\n',
    /p\.yaml:2: recipes\.search\.batchSize/,
  ),
  presetCase(
    'recipe dropout',
    'recipes: { search: { dropout: 0.5 } }\n',
    /p\.yaml:2: recipes\.search\.dropout/,
  ),
  presetCase(
    'unknown backbone',
    'backbone: { name: tinny }\n',
    /p\.yaml:2: backbone(\.name)?: unknown backbone "tinny"/,
  ),
  presetCase(
    'unknown strategy option',
    'strategy: { name: fuzz-strategy, options: { fial: ask } }\n',
    /p\.yaml:2: strategy\.options\.fial: unknown key/,
  ),
  presetCase('backbone a string', 'backbone: tiny\n', /p\.yaml:2: backbone/),
  presetCase('task null', 'task: null\n', /p\.yaml:2: task/),
  presetCase('output a number', 'output: 5\n', /p\.yaml:2: output/),
  presetCase(
    'extends a number',
    new TextEncoder().encode('extends: 42\n'),
    /p\.yaml:1: extends: expected the name or relative path of a preset/,
  ),
  presetCase(
    'extends a missing preset',
    new TextEncoder().encode('extends: ./nope.yaml\n'),
    /p\.yaml:1: extends: preset file "\.\/nope\.yaml" not found/,
  ),
  {
    family: 'preset',
    name: 'extends cycle',
    code: 1,
    place: /extends cycle: p\.yaml → q\.yaml → p\.yaml/,
    setup: (dir) => {
      write(dir, 'p.yaml', 'extends: ./q.yaml\n');
      write(dir, 'q.yaml', 'extends: ./p.yaml\n');
      return ['search', '--preset', './p.yaml'];
    },
  },
  presetCase(
    'a plugin directory that does not exist',
    'plugins: [./no-such-plugin]\n',
    /p\.yaml:2: plugins\[0\]: plugin directory "\.\/no-such-plugin" not found/,
  ),
  presetCase(
    'a plugin package not installed',
    'plugins: [peftkit-plugin-nope]\n',
    /p\.yaml:2: plugins\[0\]: plugin package "peftkit-plugin-nope" is not installed/,
  ),
  presetCase(
    'output.dir under /proc',
    'output: { dir: /proc/peftkit-fuzz, name: t }\n',
    /output\.dir: cannot create the output directory \/proc\/peftkit-fuzz/,
  ),
  presetCase(
    'output.dir a /proc directory',
    'output: { dir: /proc/self, name: t }\n',
    /output\.dir: cannot create a run directory in \/proc\/self/,
  ),
  {
    family: 'preset',
    name: 'output.dir an existing file',
    code: 1,
    place: /output\.dir: cannot create (the output directory|a run directory)/,
    setup: (dir) => {
      tinyPreset(dir);
      return ['search', '--preset', './tiny.yaml', '--set', `output.dir=${write(dir, 'afile', 'x')}`];
    },
  },
  // --set overrides
  setCase(
    '__proto__ path',
    ['__proto__.x=1'],
    /command line \(--set __proto__\.x=1\): __proto__\.x: the key "__proto__" is not allowed/,
  ),
  setCase(
    'constructor path',
    ['constructor.prototype.x=1'],
    /--set constructor\.prototype\.x=1.*the key "constructor"/,
  ),
  setCase('nested prototype path', ['strategy.options.prototype=1'], /the key "prototype" is not allowed/),
  setCase(
    '__proto__ inside a flow value',
    ['strategy.options={__proto__: {x: 1}}'],
    /--set strategy\.options=.*invalid value: the key "__proto__"/,
  ),
  setCase('unclosed flow value', ['seeds=[1, 2'], /--set seeds=\[1, 2\): seeds: invalid value/),
  setCase('empty path segment', ['a..b=1'], /--set a\.\.b=1\).*empty or malformed segment/),
  setCase('empty path', ['=1'], /--set expects path\.to\.field=value, got "=1"/),
  setCase('no equals sign', ['seeds'], /--set expects path\.to\.field=value, got "seeds"/, 2),
  setCase('index beyond a list', ['seeds[5]=1'], /--set seeds\[5\]=1.*expected an index 0\.\.1/),
  setCase(
    'a key into a scalar',
    ['budget.params.x=1'],
    /--set budget\.params\.x=1.*budget\.params is 400, not a mapping/,
  ),
  setCase('extends', ['extends=other'], /--set extends=other.*extends cannot be set on the command line/),
  setCase('NaN budget', ['budget.params=.nan'], /command line: budget(\.params)?: .*NaN/),
  setCase('infinite budget', ['budget.params=.inf'], /command line: budget(\.params)?: .*Infinity/),
  setCase('unresolved alias value', ['seeds=*x'], /--set seeds=\*x.*invalid value/),
  setCase(
    'alias bomb value',
    [`x=${`[${new Array(8).fill('&a [1,2,3,4,5,6,7,8]').join(',')}]`}`],
    /--set x=|command line/,
  ),
  setCase(
    'a string for an integer option',
    ['backbone.options.hidden=abc'],
    /command line: backbone\.options\.hidden: expected an integer/,
  ),
  setCase('an unknown task', ['task.name=nosuch'], /command line: task(\.name)?: unknown task "nosuch"/),
  setCase('seeds null', ['seeds='], /command line: seeds: expected a list/),
  setCase('a negative learning rate', ['recipes.search.lr=-1'], /command line: recipes\.search\.lr/),
  setCase(
    'an unknown top-level key',
    ['bugdet.params=3'],
    /command line: bugdet: unknown key "bugdet"[\s\S]*did you mean "budget"/,
  ),
  setCase(
    'a path 200 segments deep',
    [`${new Array(200).fill('a').join('.')}=1`],
    /command line: a: unknown key "a"/,
  ),
  setCase(
    'a 2 MB value',
    [`description=${'x'.repeat(2 * 1024 * 1024)}`],
    /invalid value: the file is \d+ bytes, over the limit/,
  ),
  // Command lines
  cliCase(
    'negative --checkpoint-every',
    () => ['search', '--preset', './tiny.yaml', '--checkpoint-every', '-1'],
    /--checkpoint-every expects a number of seconds, 0 or more, got -1/,
  ),
  cliCase(
    'non-numeric --checkpoint-every',
    () => ['search', '--preset', './tiny.yaml', '--checkpoint-every', 'abc'],
    /--checkpoint-every expects a number of seconds.*not a number/,
  ),
  cliCase(
    'infinite --checkpoint-every',
    () => ['search', '--preset', './tiny.yaml', '--checkpoint-every', 'Infinity'],
    /--checkpoint-every expects a number of seconds/,
  ),
  cliCase(
    'compare: negative --checkpoint-every',
    () => ['compare', '--preset', './tiny.yaml', '--checkpoint-every', '-5'],
    /--checkpoint-every expects/,
  ),
  cliCase('a bare --set', () => ['search', '--preset', './tiny.yaml', '--set'], /--set needs a value/),
  cliCase(
    'a bare --set before another option',
    () => ['search', '--set', '--preset', './tiny.yaml'],
    /--set needs a value/,
  ),
  cliCase('a bare --preset', () => ['search', '--preset'], /--preset needs a value/),
  cliCase('a bare --resume', () => ['search', '--resume'], /--resume needs a value/),
  cliCase(
    'an unknown option',
    () => ['search', '--preset', './tiny.yaml', '--sed', 'x=1'],
    /Unknown argument: sed/,
  ),
  cliCase('an unknown command', () => ['serch'], /unknown command "serch"; did you mean search\?/),
  cliCase('no command', () => [], /choose a command/),
  cliCase(
    '--resume with --preset',
    () => ['search', '--resume', 'runs/x', '--preset', './tiny.yaml'],
    /--resume continues a run with its own configuration/,
  ),
  cliCase(
    'compare --retry-failed without --resume',
    () => ['compare', '--preset', './tiny.yaml', '--retry-failed'],
    /--retry-failed .* use it with --resume DIR/,
  ),
  cliCase(
    'eval: an unknown split',
    () => ['eval', 'runs/x', '--split', 'dev'],
    /Invalid values:[\s\S]*split/,
  ),
  cliCase(
    'export: an unknown format',
    () => ['export', 'runs/x', '--format', 'pt'],
    /Invalid values:[\s\S]*format/,
  ),
  cliCase(
    'usage error under --json',
    () => ['search', '--json', '--checkpoint-every', '-1'],
    /--checkpoint-every expects/,
  ),
  cliCase(
    'compare --resume of a missing directory',
    () => ['compare', '--resume', 'no-such-compare'],
    /no-such-compare: comparison directory not found/,
    1,
  ),
  cliCase(
    'compare --resume of a directory that is not a comparison',
    (dir) => (mkdirSync(join(dir, 'empty')), ['compare', '--resume', 'empty']),
    /empty: not a comparison directory: it has no compare-config\.json/,
    1,
  ),
  cliCase(
    'search --resume of a missing directory',
    () => ['search', '--resume', 'no-such-run'],
    /no-such-run: run directory not found/,
    1,
  ),
  cliCase(
    'search --resume of a file',
    () => ['search', '--resume', 'tiny.yaml'],
    /tiny\.yaml: not a directory \(expected a run directory\)/,
    1,
  ),
  cliCase('eval of a missing directory', () => ['eval', 'no-such-run'], /no-such-run/, 1),
  cliCase('export of a missing directory', () => ['export', 'no-such-run'], /no-such-run/, 1),
  cliCase(
    'an unknown preset name',
    () => ['search', '--preset', 'quickstrat'],
    /unknown preset "quickstrat"[\s\S]*did you mean "quickstart"/,
    1,
  ),
  cliCase(
    'an unknown preset under --json',
    () => ['presets', 'show', 'nosuch', '--json'],
    /unknown preset "nosuch"/,
    1,
  ),
  cliCase(
    'an unknown reporter',
    () => ['search', '--preset', './tiny.yaml', '--reporter', 'fancy'],
    /unknown reporter "fancy"/,
    1,
  ),
  cliCase(
    'train --architecture of a missing file',
    () => ['train', '--preset', './tiny.yaml', '--architecture', 'nope.json'],
    /architecture: cannot read architecture file nope\.json: ENOENT/,
    1,
  ),
  cliCase(
    'train --architecture of invalid JSON',
    (dir) => (
      write(dir, 'arch.json', '{"modules": ['),
      ['train', '--preset', './tiny.yaml', '--architecture', 'arch.json']
    ),
    /arch\.json.*architecture file is not valid JSON/,
    1,
  ),
  cliCase(
    'train --architecture with an unknown module type',
    (dir) => (
      write(dir, 'arch.json', '{"modules": [{"type": "lorra", "point": "x", "rank": 1}]}'),
      ['train', '--preset', './tiny.yaml', '--architecture', 'arch.json']
    ),
    /arch\.json: architecture\.modules\[0\]\.type: unknown peft-module "lorra"[\s\S]*did you mean "lora"/,
    1,
  ),
  cliCase(
    'a configuration from --set alone missing its backbone',
    () => ['search', '--set', 'seeds=[1]'],
    /command line: backbone: missing required key "backbone"/,
    1,
  ),
];
