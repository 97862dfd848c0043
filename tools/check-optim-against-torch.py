#!/usr/bin/python3
"""Compare @peftkit/train's optimisers, gradient clipping and LR schedules with PyTorch.

Not part of CI (it needs PyTorch: Debian's python3-torch 1.13 works). Run from the repository root
after building (`npx tsc -b`):

    /usr/bin/python3 tools/check-optim-against-torch.py [--steps 20] [--seed 0]

For each case it draws random float32 parameters and gradients, runs the same steps through
torch.optim (float32 tensors, CPU, single-tensor path) and through the compiled TypeScript (via
node), and prints the largest absolute difference and the largest difference in float32 ulps of
the result (at the tensor's scale). Exit status 1 when a case exceeds its tolerance.

peftkit computes each element in float64 and stores float32; torch computes in float32. So the two
are expected to agree to a few ulps per step, not bit for bit.
"""
import argparse
import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIST = ROOT / "core" / "train" / "dist" / "src" / "index.js"

# Runs the TypeScript side: reads the cases from stdin, writes the results to stdout.
NODE_PROBE = r"""
const train = await import(process.argv[1]);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const c of JSON.parse(input)) {
  if (c.kind === 'clip') {
    const g = Object.fromEntries(Object.entries(c.grads).map(([k, v]) => [k, Float32Array.from(v)]));
    const norm = train.clipGradNorm(g, c.maxNorm);
    out.push({ norm, grads: Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Array.from(v)])) });
    continue;
  }
  if (c.kind === 'schedule') {
    const r = { lr: 1, schedule: c.schedule, warmupRatio: c.warmupRatio };
    out.push({ lrs: Array.from({ length: c.total }, (_, s) => train.lrAt(s, c.total, r)) });
    continue;
  }
  const groups = (c.groups ?? []).map((g) => ({ ...g, match: new RegExp(g.match) }));
  const opt = c.kind === 'sgd'
    ? new train.Sgd({ ...c.options, groups })
    : new train.AdamFamily(c.kind === 'adamw', { ...c.options, groups });
  const params = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, Float32Array.from(v)]));
  c.grads.forEach((step, k) => {
    const g = Object.fromEntries(Object.entries(step).map(([n, v]) => [n, Float32Array.from(v)]));
    opt.step(params, g, c.lrs[k]);
  });
  out.push({ params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.from(v)])) });
}
process.stdout.write(JSON.stringify(out));
"""


def run_node(cases):
    proc = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_PROBE, DIST.as_uri()],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"node failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def ulps(a, b):
    """Largest |a − b| in float32 ulps at the tensor's scale (the spacing of max |b|).

    Elements near zero carry absolute rounding errors from larger intermediate values, so ulps of
    each element's own magnitude would overstate the disagreement.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    spacing = float(np.spacing(np.float32(np.max(np.abs(b)))))
    return float(np.max(np.abs(a - b)) / spacing)


def torch_optimizer(kind, options, named, groups):
    """torch optimiser over `named` tensors with peftkit-style groups (first match sets each key)."""
    base_wd = options.get("weightDecay", 1e-2 if kind == "adamw" else 0.0)
    torch_groups = []
    for name, tensor in named.items():
        scale, wd = None, None
        for g in groups:
            if re.search(g["match"], name):
                scale = g.get("lrScale") if scale is None else scale
                wd = g.get("weightDecay") if wd is None else wd
        torch_groups.append(
            {"params": [tensor], "lr_scale": 1.0 if scale is None else scale, "weight_decay": base_wd if wd is None else wd}
        )
    if kind == "sgd":
        return torch.optim.SGD(
            torch_groups, lr=0.0, momentum=options.get("momentum", 0.0), nesterov=options.get("nesterov", False)
        )
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(
        torch_groups,
        lr=0.0,
        betas=tuple(options.get("betas", (0.9, 0.999))),
        eps=options.get("eps", 1e-8),
        amsgrad=options.get("amsgrad", False),
    )


def optimizer_cases(rng, steps):
    sizes = {"lora@l0/A": 257, "lora@l0/B": 64, "head/bias": 3}
    configs = [
        ("adamw", {"weightDecay": 0.01}, []),
        ("adamw", {"weightDecay": 0.1, "betas": [0.8, 0.99], "eps": 1e-6, "amsgrad": True}, []),
        ("adam", {"weightDecay": 0.1}, []),
        ("adam", {"weightDecay": 1e-4, "betas": [0.5, 0.999], "amsgrad": True}, []),
        ("sgd", {"weightDecay": 1e-3}, []),
        ("sgd", {"momentum": 0.9, "weightDecay": 1e-4}, []),
        ("sgd", {"momentum": 0.9, "nesterov": True, "weightDecay": 1e-2}, []),
        (
            "adamw",
            {"weightDecay": 0.05},
            [{"match": "^head/", "lrScale": 3.0}, {"match": "bias$", "weightDecay": 0.0}],
        ),
    ]
    cases = []
    for kind, options, groups in configs:
        params = {n: rng.standard_normal(k).astype(np.float32) for n, k in sizes.items()}
        grads = [
            {n: (rng.standard_normal(k) * 10.0 ** rng.uniform(-3, 1)).astype(np.float32) for n, k in sizes.items()}
            for _ in range(steps)
        ]
        lrs = [float(np.float32(x)) for x in rng.uniform(1e-4, 5e-2, steps)]
        cases.append(
            {
                "kind": kind,
                "options": options,
                "groups": groups,
                "params": {n: v.tolist() for n, v in params.items()},
                "grads": [{n: v.tolist() for n, v in g.items()} for g in grads],
                "lrs": lrs,
            }
        )
    return cases


def run_torch_optimizer(case):
    named = {n: torch.tensor(v, dtype=torch.float32) for n, v in case["params"].items()}
    opt = torch_optimizer(case["kind"], case["options"], named, case["groups"])
    for grads, lr in zip(case["grads"], case["lrs"]):
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_scale"]
        for n, t in named.items():
            t.grad = torch.tensor(grads[n], dtype=torch.float32)
        opt.step()
    return {n: t.numpy() for n, t in named.items()}


def hf_lambda(schedule, warmup, total):
    """The lambdas of transformers.optimization (get_*_schedule_with_warmup), for LambdaLR."""

    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        if schedule == "constant":
            return 1.0
        if schedule == "linear":
            return max(0.0, float(total - step) / float(max(1, total - warmup)))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress)))

    return f


def torch_schedule_lrs(schedule, warmup_ratio, total):
    """The lr each optimiser step sees under LambdaLR with the usual step()/scheduler.step() loop."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    warmup = math.ceil(total * warmup_ratio)  # TrainingArguments.get_warmup_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, hf_lambda(schedule, warmup, total))
    seen = []
    for _ in range(total):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not DIST.exists():
        sys.exit(f"{DIST} not found: build first (npx tsc -b)")
    rng = np.random.default_rng(args.seed)
    failed = False
    print(f"torch {torch.__version__}, {args.steps} steps per optimiser case, seed {args.seed}")

    cases = optimizer_cases(rng, args.steps)
    for case, ours in zip(cases, run_node(cases)):
        ref = run_torch_optimizer(case)
        worst_abs = max(float(np.max(np.abs(np.float64(ours["params"][n]) - ref[n]))) for n in ref)
        worst_ulps = max(ulps(ours["params"][n], ref[n]) for n in ref)
        label = f"{case['kind']} {json.dumps(case['options'])}" + (" +groups" if case["groups"] else "")
        ok = worst_ulps <= 2 * args.steps
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label:<90} max |diff| {worst_abs:.3e}  max {worst_ulps:.1f} ulp")

    clip_cases = []
    for max_norm in (0.5, 5.0, 1e6):
        grads = {f"t{i}": (rng.standard_normal(k) * 0.3).astype(np.float32) for i, k in enumerate((100, 7, 1))}
        clip_cases.append({"kind": "clip", "maxNorm": max_norm, "grads": {n: v.tolist() for n, v in grads.items()}})
    for case, ours in zip(clip_cases, run_node(clip_cases)):
        tensors = [torch.tensor(v, dtype=torch.float32) for v in case["grads"].values()]
        for t in tensors:
            t.grad = t.clone()
        norm = float(torch.nn.utils.clip_grad_norm_(tensors, case["maxNorm"]))
        worst = max(ulps(ours["grads"][n], t.grad.numpy()) for n, t in zip(case["grads"], tensors))
        norm_rel = abs(ours["norm"] - norm) / norm
        ok = worst <= 4 and norm_rel < 1e-6
        failed |= not ok
        print(
            f"{'ok  ' if ok else 'FAIL'} clip maxNorm {case['maxNorm']:<8g} norm {ours['norm']:.6f} "
            f"(torch {norm:.6f}, rel {norm_rel:.1e}), grads max {worst:.1f} ulp"
        )

    sched_cases = [
        {"kind": "schedule", "schedule": s, "warmupRatio": w, "total": t}
        for s in ("constant", "linear", "cosine")
        for w, t in ((0.0, 50), (0.1, 100), (0.07, 100), (0.3, 7))
    ]
    for case, ours in zip(sched_cases, run_node(sched_cases)):
        ref = torch_schedule_lrs(case["schedule"], case["warmupRatio"], case["total"])
        worst = max(abs(a - b) for a, b in zip(ours["lrs"], ref))
        ok = worst < 1e-12
        failed |= not ok
        print(
            f"{'ok  ' if ok else 'FAIL'} schedule {case['schedule']:<8} warmupRatio {case['warmupRatio']:<4} "
            f"T {case['total']:<3} max |diff| vs LambdaLR {worst:.1e}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
