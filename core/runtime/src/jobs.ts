/** Running gradient and evaluate jobs against the workbench. */
import type { EvaluateJob, EvaluateResult, GradientJob, GradientResult, ParamSet } from '@peftkit/api';
import type { Workbench } from './workbench.js';

export async function runGradientJob(wb: Workbench, job: GradientJob): Promise<GradientResult> {
  if (job.dropoutSeed !== undefined) {
    throw new Error('dropout in gradient jobs is not supported yet (set recipe.dropout to 0)');
  }
  const c = await wb.compile(job.program, 'train');
  const wantParams = job.want.params ?? false;
  const names =
    wantParams === true ? c.layout.params.map((p) => p.name) : wantParams === false ? [] : [...wantParams];
  const fetches = ['loss', ...names.map((n) => `grad:${n}`)];
  if (job.want.gates) {
    if (c.layout.gated.length === 0)
      throw new Error('gradient job asks for gate gradients, but no module is gated');
    fetches.push('grad:gates');
  }
  if (job.want.rankMasks) {
    if (c.layout.rankMasked.length === 0)
      throw new Error('gradient job asks for rank-mask gradients, but no module is rank-masked');
    fetches.push('grad:rank_masks');
  }
  const arch = {
    gates: job.gates,
    gatesDetached: job.gatesDetached,
    rankMasks: job.rankMasks,
    rankMasksDetached: job.rankMasksDetached,
  };
  const out = await wb.step(c, job.split, job.indices, job.params, arch, fetches);
  const grads: ParamSet = {};
  for (const n of names) grads[n] = out[`grad:${n}`]!.data as Float32Array;
  return {
    kind: 'gradient',
    loss: out.loss!.data[0] as number,
    grads,
    gateGrads: job.want.gates ? (out['grad:gates']!.data as Float32Array) : undefined,
    rankMaskGrads: job.want.rankMasks ? (out['grad:rank_masks']!.data as Float32Array) : undefined,
  };
}

export async function runEvaluateJob(wb: Workbench, job: EvaluateJob): Promise<EvaluateResult> {
  const metrics = await wb.evaluate(
    job.program,
    job.params,
    {
      gates: job.gates,
      gatesDetached: job.gatesDetached,
      rankMasks: job.rankMasks,
      rankMasksDetached: job.rankMasksDetached,
    },
    job.split,
    job.batchSize,
  );
  return { kind: 'evaluate', metrics };
}
