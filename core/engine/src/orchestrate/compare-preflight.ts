/**
 * Checks of a comparison before its first cell runs, so that a problem that would fail a cell
 * hours into the comparison (a data file that is not there in `compare.tasks[2]`, a budget the
 * backbone cannot have) fails in seconds instead, naming the field:
 *
 *   - the backbone is created (its files are read), and every budget resolved against its size;
 *   - every task is created (its data files are read and split);
 *   - every strategy is created (its options and collaborators), and its search space created
 *     and built on the backbone.
 *
 *   - every strategy that has `check` (SearchStrategy.check) checks every (task, budget) of its row
 *     on its built space (BIPEFT, S3Delta, random and AutoPEFT-style search refuse a budget below
 *     the smallest module of their space).
 *
 * What a strategy does not check this way (an AdaLoRA budget below one singular triplet is found
 * when the search starts) is caught per cell by the comparison instead.
 */
import type { Backbone, ComponentRef, Logger, ModuleTypes, Task } from '@peftkit/api';
import { PeftToolkit } from '@peftkit/nn';
import { ConfigError, PeftkitError, resolveBudget } from '@peftkit/api';
import { ConfigErrorList } from '../config/errors.js';
import { formatPath, type ConfigPath, type Origins } from '../config/origins.js';
import type { RunConfig } from '../config/types.js';
import type { Registry } from '../plugins/registry.js';
import { moduleTypesOf } from './run.js';

/** Where task `i` of the comparison is written in the configuration. */
export function comparedTaskPath(config: RunConfig, i: number): (string | number)[] {
  return config.compare?.tasks ? ['compare', 'tasks', i] : ['task'];
}

/** Where budget `i` of the comparison is written. */
export function comparedBudgetPath(config: RunConfig, i: number): (string | number)[] {
  return config.compare?.budgets ? ['compare', 'budgets', i] : ['budget'];
}

/** Where strategy `j`'s search space is written (its own, or the top-level `space`). */
export function comparedSpacePath(config: RunConfig, j: number): (string | number)[] {
  return config.compare?.strategies[j]?.space ? ['compare', 'strategies', j, 'space'] : ['space'];
}

/** What to check: indices into the comparison's tasks, strategies and budgets. */
export interface PreflightScope {
  tasks: readonly number[];
  strategies: readonly number[];
  budgets: readonly number[];
}

export interface PreflightOptions {
  config: RunConfig;
  registry: Registry;
  log: Logger;
  /** The directory relative paths written at a configuration path are resolved against. */
  baseDirFor: (path: ConfigPath) => string;
  /** Default: everything the comparison names. */
  scope?: PreflightScope;
  /** Where the configuration's values were written, so errors name the file and line. */
  origins?: Origins;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Create the backbone, tasks, strategies and spaces of the comparison and resolve its budgets;
 * throws one ConfigError naming every field that failed (`compare.tasks[2]: ...`).
 */
export async function preflightCompare(opts: PreflightOptions): Promise<void> {
  const { config, registry, log, origins } = opts;
  const spec = config.compare!;
  const tasks = spec.tasks ?? [config.task];
  const budgets = spec.budgets ?? (config.budget ? [config.budget] : []);
  const scope: PreflightScope = opts.scope ?? {
    tasks: tasks.map((_, i) => i),
    strategies: spec.strategies.map((_, j) => j),
    budgets: budgets.map((_, i) => i),
  };
  const errors: ConfigError[] = [];
  const fail = (path: ConfigPath, e: unknown, what = '') => {
    // A bug (not a problem with the input) surfaces as itself, with its "unexpected error" note.
    if (!(e instanceof PeftkitError)) throw e;
    const at = formatPath(path);
    // An error the registry already placed under this reference (`compare.tasks[2].options.x`).
    if (e instanceof ConfigError && e.path?.startsWith(at)) return void errors.push(e);
    const err = new ConfigError(`${what}${messageOf(e)}`, undefined, at);
    err.cause = e;
    errors.push(err);
  };
  const ctxFor = (path: ConfigPath) => registry.context({ baseDir: opts.baseDirFor(path), log });
  const create = async <T>(path: ConfigPath, f: () => Promise<T>, what?: string): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      fail(path, e, what);
      return undefined;
    }
  };

  const backbone: Backbone | undefined = await create(['backbone'], () =>
    registry.create('backbone', config.backbone, ctxFor(['backbone']), { path: ['backbone'], origins }),
  );
  const createdTasks = new Map<number, Task>();
  for (const i of scope.tasks) {
    const path = comparedTaskPath(config, i);
    const task = await create(
      path,
      () => registry.create('task', tasks[i]!, ctxFor(path), { path, origins }),
      `task ${JSON.stringify(tasks[i]!.name)}: `,
    );
    if (task) createdTasks.set(i, task);
  }
  if (backbone) {
    for (const i of scope.budgets) {
      try {
        resolveBudget(budgets[i]!, backbone.info.params);
      } catch (e) {
        fail(comparedBudgetPath(config, i), e);
      }
    }
  }
  let types: ModuleTypes | undefined;
  for (const j of scope.strategies) {
    const st = spec.strategies[j]!;
    const what = `strategy ${JSON.stringify(st.label)}: `;
    const path = ['compare', 'strategies', j, 'strategy'];
    const strategy = await create(
      path,
      () => registry.create('search-strategy', st.strategy, ctxFor(path), { path, origins }),
      what,
    );
    const spaceRef: ComponentRef | undefined = st.space ?? config.space;
    if (!backbone) continue;
    const spacePath = comparedSpacePath(config, j);
    // A strategy without a search space (manual, AdaLoRA) checks against an empty one.
    const space = !spaceRef
      ? { name: 'none', candidates: [] }
      : await create(
          spacePath,
          async () => {
            types ??= await moduleTypesOf(registry, ctxFor(['backbone']));
            const space = await registry.create('search-space', spaceRef, ctxFor(spacePath), {
              path: spacePath,
              origins,
            });
            return space.build(backbone.info, types);
          },
          what,
        );
    // The strategy's own check of every (task, budget) of its row (SearchStrategy.check).
    if (!strategy?.check || !space) continue;
    types ??= await moduleTypesOf(registry, ctxFor(['backbone']));
    for (const t of scope.tasks) {
      const task = createdTasks.get(t);
      if (!task) continue;
      const modules = new PeftToolkit(backbone, task.info, types);
      for (const b of scope.budgets) {
        let budget;
        try {
          budget = resolveBudget(budgets[b]!, backbone.info.params);
        } catch {
          continue; // reported above
        }
        try {
          strategy.check({ backbone: backbone.info, task: task.info, space, budget, modules });
        } catch (e) {
          fail(comparedBudgetPath(config, b), e, `${what}task ${JSON.stringify(tasks[t]!.name)}: `);
        }
      }
    }
  }
  if (errors.length > 0) throw new ConfigErrorList(errors);
  log.debug(
    `comparison checked before its first run: backbone, ${scope.tasks.length} task(s), ${scope.budgets.length} budget(s), ${scope.strategies.length} strateg${scope.strategies.length === 1 ? 'y' : 'ies'}`,
  );
}
