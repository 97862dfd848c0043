/**
 * Conformance suite for search spaces (extension point `search-space`).
 *
 *   import { describeSearchSpace } from '@peftkit/testing';
 *   import { builtinModuleTypes } from '@peftkit/plugin-peft-modules';
 *   describeSearchSpace('s1', () => new PatternSpace('s1', S1_ENTRIES), { types: builtinModuleTypes });
 *
 * It builds the space on tiny fixture backbones (2 and 3 layers by default) and checks the
 * documented contract of SearchSpace and Candidate:
 * - at least one candidate; ids are `<type>@<point>` and unique;
 * - every candidate's point exists on that backbone, its type is registered, attaches to the
 *   point's kind and accepts the point;
 * - ranked types have a non-empty, strictly ascending list of positive integer ranks, unranked
 *   types have `ranks: null`; the type gives positive parameter counts at every rank with the
 *   candidate's options;
 * - the definition is plain data, and building twice gives the same definition.
 */
import type { Backbone, ModuleTypes, SearchSpace, SpaceDefinition } from '@peftkit/api';
import { moduleId } from '@peftkit/api';
import { expect } from 'chai';
import { tinyBackbone } from '../fixtures.js';
import {
  type Factory,
  type ModuleTypeSource,
  SUITE_TIMEOUT_MS,
  plainDataProblem,
  toModuleTypes,
} from './common.js';
import { mocha } from './mocha.js';

export interface SearchSpaceSuiteOptions {
  /** The module types the space names (e.g. the peft-modules plugin's `builtinModuleTypes`). */
  types: ModuleTypeSource;
  /** Backbones to build on (default: tiny fixture backbones with 2 and 3 layers). */
  backbones?: readonly Backbone[];
  /** Per-test time limit in ms (default 60 s). */
  timeout?: number;
}

/** Problems of a built space on one backbone (empty when it is valid). */
export function spaceDefinitionProblems(
  def: SpaceDefinition,
  backbone: Backbone,
  types: ModuleTypes,
): string[] {
  const problems: string[] = [];
  const points = new Map(backbone.info.points.map((p) => [p.name, p]));
  const known = new Set(types.names());
  if (typeof def.name !== 'string' || def.name === '') problems.push('the definition has no name');
  if (!Array.isArray(def.candidates) || def.candidates.length === 0) {
    problems.push(`no candidate on backbone ${backbone.info.name}`);
    return problems;
  }
  const seen = new Set<string>();
  for (const c of def.candidates) {
    const at = `candidate ${c.id}`;
    if (c.id !== moduleId(c.type, c.point)) problems.push(`${at}: id must be "${moduleId(c.type, c.point)}"`);
    if (seen.has(c.id)) problems.push(`${at} is listed twice`);
    seen.add(c.id);
    const point = points.get(c.point);
    if (!point) {
      problems.push(`${at}: backbone ${backbone.info.name} has no point "${c.point}"`);
      continue;
    }
    if (!known.has(c.type)) {
      problems.push(`${at}: unknown module type "${c.type}"`);
      continue;
    }
    const type = types.get(c.type);
    if (!type.attachesTo.includes(point.kind) || !type.accepts(point)) {
      problems.push(`${at}: ${c.type} cannot attach to ${point.kind} point ${c.point}`);
      continue;
    }
    if (c.options === null || typeof c.options !== 'object' || Array.isArray(c.options)) {
      problems.push(`${at}: options must be an object`);
      continue;
    }
    if (type.ranked) {
      const r = c.ranks;
      if (!Array.isArray(r) || r.length === 0) {
        problems.push(`${at}: ${c.type} is ranked, so the candidate needs candidate ranks`);
        continue;
      }
      if (!r.every((x, i) => Number.isInteger(x) && x >= 1 && (i === 0 || x > r[i - 1]!))) {
        problems.push(`${at}: ranks [${r.join(', ')}] must be positive integers in strictly ascending order`);
        continue;
      }
    } else if (c.ranks !== null) {
      problems.push(`${at}: ${c.type} is unranked, so ranks must be null`);
      continue;
    }
    for (const rank of c.ranks ?? [null]) {
      try {
        const n = type
          .params(point, rank, c.options)
          .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
        if (!(n > 0)) problems.push(`${at}: ${n} parameters at rank ${rank}`);
      } catch (e) {
        problems.push(
          `${at}: ${c.type}.params at rank ${rank} with its options fails: ${(e as Error).message}`,
        );
      }
    }
  }
  return problems;
}

export function describeSearchSpace(
  name: string,
  factory: Factory<SearchSpace>,
  opts: SearchSpaceSuiteOptions,
): void {
  const { describe, it } = mocha('describeSearchSpace');
  const types = toModuleTypes(opts.types);
  const backbones = opts.backbones ?? [
    tinyBackbone({ hidden: 8 }),
    tinyBackbone({ hidden: 8, layers: 3, seed: 3 }),
  ];

  describe(`search space ${name} (conformance)`, function () {
    this.timeout(opts.timeout ?? SUITE_TIMEOUT_MS);

    backbones.forEach((backbone, i) => {
      it(`builds valid candidates on fixture backbone #${i + 1} (${backbone.info.numLayers} layers)`, async () => {
        const def = (await factory()).build(backbone.info, types);
        const problems = spaceDefinitionProblems(def, backbone, types);
        expect(problems, problems.join('\n')).to.deep.equal([]);
      });
    });

    it('is plain data, and building twice gives the same definition', async () => {
      const backbone = backbones[0]!;
      const a = (await factory()).build(backbone.info, types);
      const b = (await factory()).build(backbone.info, types);
      const problem = plainDataProblem(a, 'definition');
      expect(
        problem,
        `the definition must be plain data (it is recorded and sent to executors): ${problem}`,
      ).to.equal(null);
      expect(b).to.deep.equal(a);
      expect(structuredClone(a)).to.deep.equal(a);
    });
  });
}
