/** docs/plugins/<kind>.md rendered from the scaffolder's templates (one worked example per kind). */
import type { ExtensionKind } from '@peftkit/api';
import { readFileSync } from 'node:fs';
import { fill, kindTemplate, placeholders, smokeCommand, templateFiles } from './scaffold.js';

/** The name the worked examples in docs/plugins/ use for a kind (`my-<kind>`). */
export function exampleName(kind: ExtensionKind): string {
  return `my-${kind}`;
}

/**
 * docs/plugins/<kind>.md: the worked example of a kind, rendered from its templates (so the docs
 * show exactly what `peftkit plugin new` writes; a test keeps them equal, `npm run docs:plugins`
 * rewrites them).
 */
export function kindDoc(kind: ExtensionKind): string {
  const name = exampleName(kind);
  const values = placeholders(name, kind);
  const t = kindTemplate(kind);
  const file = (path: string) => {
    const template = templateFiles(kind).find(([p]) => fill(p, values) === path);
    if (!template) throw new Error(`template ${path} of ${kind} not found`);
    return fill(readFileSync(template[1], 'utf8'), values).trimEnd();
  };
  const block = (path: string, lang: string) => `\`${path}\`:\n\n\`\`\`${lang}\n${file(path)}\n\`\`\`\n`;
  return [
    `<!-- Generated from core/cli/templates/${kind}/ by \`npm run docs:plugins\`; edit the templates, not this file. -->`,
    '',
    `# A ${kind} plugin`,
    '',
    `${t.summary}`,
    '',
    '```',
    `npx peftkit plugin new ${name} --kind ${kind}`,
    `cd peftkit-plugin-${name} && npm install && npm run build && npm test`,
    `npm run smoke    # ${smokeCommand(name, kind)}`,
    '```',
    '',
    values.__ABOUT__,
    '',
    'The whole package is described in [../plugin-authoring.md](../plugin-authoring.md); here are the files that',
    'are particular to this kind.',
    '',
    block(`src/${name}.ts`, 'ts'),
    block('src/plugin.ts', 'ts'),
    block('test/conformance.spec.ts', 'ts'),
    block('test/values.spec.ts', 'ts'),
    block(`presets/${name}-smoke.yaml`, 'yaml'),
    block(`presets/${name}.yaml`, 'yaml'),
  ].join('\n');
}
