"""One BIPEFT iteration in PyTorch, written from the method specification
(/work/shared/reference/bipeft-method.md, sections 2.3-2.9), not from peftkit's code. Used by
plugins/bipeft/test/torch-iteration.spec.ts as an independent cross-check.

Input (JSON on stdin): a Hugging Face BERT checkpoint directory, the PEFT modules of a small S1-like
space (LoRA on linear layers, BitFit on linear layers and LayerNorms, LNFit on LayerNorms), their
parameters and the task head, the two batches (architecture and weight) as token ids, the hard
samples (gates and rank masks) of the two steps, the weight optimiser's settings, the estimator's
previous averages and the scheduler's previous state (trigger history, rank-logit history H,
remaining rounds, budget) with the binary and rank logits.

The iteration (spec 2.11): the architecture-batch loss and its gradients under the architecture
sample; the weight-batch loss and its gradients under the weight sample, one AdamW step (gradient
norm clipped); the sensitivity of every module from the updated parameters and both gradients
(criterion tra_val_cos1, EMA 0.85); the trigger's greedy knapsack and cosine similarity; if it
fires, a pruning round (delta = (E[P] - B) / T_rem) and the rank freezing that follows it.

Module forms (spec 2.3, the detached path, with g the gate and m the rank mask; sg = no gradient):
  LoRA     y = W x + b + ((x A) * m * sg(m) * g * sg(g)) B       A [in, r_max], B [r_max, out]
  BitFit   y = f(x) + g * sg(g) * b
  LNFit    y = LN(x) + g * sg(g) * dgamma * (x - mean) / sqrt(var + eps)
Output (JSON on stdout): losses, raw and smoothed sensitivities, the trigger similarity and whether
it fired, delta, the pruned modules, gamma and the frozen modules.
"""
import json
import math
import sys

import torch
from transformers import BertModel

torch.set_default_dtype(torch.float32)


def main():
    cfg = json.load(sys.stdin)
    model = BertModel.from_pretrained(cfg["checkpoint"], attn_implementation="eager")
    model.eval()  # no dropout
    for p in model.parameters():
        p.requires_grad_(False)
    modules = cfg["modules"]
    params = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True) for k, v in cfg["params"].items()}
    head_w = params["head/weight"]
    head_b = params["head/bias"]

    def target(point):
        parts = point.split(".")
        layer = model.encoder.layer[int(parts[1])]
        name = ".".join(parts[2:])
        return {
            "attn.q": layer.attention.self.query,
            "attn.k": layer.attention.self.key,
            "attn.v": layer.attention.self.value,
            "attn.o": layer.attention.output.dense,
            "ffn.in": layer.intermediate.dense,
            "ffn.out": layer.output.dense,
            "ln_attn": layer.attention.output.LayerNorm,
            "ln_ffn": layer.output.LayerNorm,
        }[name]

    # Gates and masks of the current step, read by the hooks.
    current = {"gate": {}, "mask": {}}

    def gate(mid):
        g = current["gate"][mid]
        return g * g.detach()

    def make_hook(m):
        mid, kind = m["id"], m["type"]

        def hook(mod, inputs, output):
            x = inputs[0]
            if kind == "lora":
                mask = current["mask"][mid]
                u = (x @ params[mid + "/A"]) * (mask * mask.detach()) * gate(mid)
                return output + u @ params[mid + "/B"]
            if kind == "bitfit":
                return output + gate(mid) * params[mid + "/bias"]
            if kind == "lnfit":
                mean = x.mean(-1, keepdim=True)
                var = ((x - mean) ** 2).mean(-1, keepdim=True)
                xhat = (x - mean) / torch.sqrt(var + mod.eps)
                return output + gate(mid) * params[mid + "/gamma"] * xhat
            raise ValueError(kind)

        return hook

    # Composition at one point (spec 2.3): parallel branches (LoRA, LNFit) on the frozen output,
    # then BitFit.
    order = {"lora": 0, "lnfit": 0, "bitfit": 1}
    for m in sorted(modules, key=lambda m: (order[m["type"]], m["id"])):
        target(m["point"]).register_forward_hook(make_hook(m))

    def loss_of(batch, sample):
        current["gate"] = {mid: torch.tensor(v, dtype=torch.float32, requires_grad=True) for mid, v in sample["gates"].items()}
        current["mask"] = {mid: torch.tensor(v, dtype=torch.float32, requires_grad=True) for mid, v in sample["masks"].items()}
        ids = torch.tensor(batch["ids"], dtype=torch.long)
        mask = torch.tensor(batch["mask"], dtype=torch.float32)
        types = torch.tensor(batch["typeIds"], dtype=torch.long)
        h = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        logits = h[:, 0, :] @ head_w + head_b  # [CLS] pooling, linear head
        return torch.nn.functional.cross_entropy(logits, torch.tensor(batch["labels"], dtype=torch.long))

    names = [n for n in params]
    module_names = {m["id"]: [n for n in names if n.startswith(m["id"] + "/")] for m in modules}

    # Architecture step: gradients of the architecture-batch loss (the weights are constants here).
    loss_a = loss_of(cfg["archBatch"], cfg["archSample"])
    grads_a = torch.autograd.grad(loss_a, [params[n] for n in names], allow_unused=True)
    arch_grads = {n: (g if g is not None else torch.zeros_like(params[n])) for n, g in zip(names, grads_a)}

    # Weight step: gradients, clip the global norm, one AdamW step (torch.optim.AdamW's formulas).
    loss_w = loss_of(cfg["weightBatch"], cfg["weightSample"])
    grads_w = torch.autograd.grad(loss_w, [params[n] for n in names], allow_unused=True)
    weight_grads = {n: (g if g is not None else torch.zeros_like(params[n])).detach() for n, g in zip(names, grads_w)}
    opt = cfg["optimizer"]
    leaves = [params[n] for n in names]
    for n in names:
        params[n].grad = weight_grads[n].clone()
    torch.nn.utils.clip_grad_norm_(leaves, opt["clipNorm"])
    adamw = torch.optim.AdamW(leaves, lr=opt["lr"], betas=tuple(opt["betas"]), eps=opt["eps"], weight_decay=opt["weightDecay"])
    adamw.step()

    def count(m, rank):
        mod = target(m["point"])
        if m["type"] == "lora":
            return rank * (mod.in_features + mod.out_features)
        if m["type"] == "bitfit":
            return mod.out_features if isinstance(mod, torch.nn.Linear) else mod.normalized_shape[0]
        return mod.normalized_shape[0]  # lnfit

    # Sensitivity (spec 2.5), from the parameters after the weight step.
    prior = cfg["sensitivity"]
    beta1 = beta2 = 0.85
    raw, smoothed = {}, {}
    for m in modules:
        mid = m["id"]
        if not m["kept"]:
            continue
        n = count(m, m["ranks"][-1] if m["ranks"] else None)  # n_j: size at r_max
        s_w = s_a = 0.0
        cos = []
        for pn in module_names[mid]:
            theta = params[pn].detach().double().flatten()
            gw = weight_grads[pn].double().flatten()
            ga = arch_grads[pn].detach().double().flatten()
            s_w += (theta * gw).abs().sum().item()
            s_a += (theta * ga).abs().sum().item()
            a, b = theta * gw, theta * ga
            na, nb = a.norm().item(), b.norm().item()
            cos.append((a @ b).item() / (na * nb) if na > 0 and nb > 0 else 0.0)
        c = sum(cos) / len(cos)
        s = s_w / n + c * s_a / n
        mean, unc = prior.get(mid, [0.0, 0.0])
        mean = beta1 * mean + (1 - beta1) * s
        unc = beta2 * unc + (1 - beta2) * abs(s - mean)
        raw[mid] = s
        smoothed[mid] = mean
    for mid, (mean, unc) in prior.items():  # pruned modules: raw score 0, their averages decay
        if mid not in raw:
            smoothed[mid] = beta1 * mean

    sched = cfg["scheduler"]
    budget = sched["budget"]
    remaining = sched["remaining"]

    def softmax(x):
        mx = max(x)
        e = [math.exp(v - mx) for v in x]
        z = sum(e)
        return [v / z for v in e]

    def argmax(x):
        return max(range(len(x)), key=lambda i: (x[i], -i))

    alive = [m for m in modules if m["kept"]]
    info = {}
    for m in modules:
        mid = m["id"]
        if m["ranks"]:
            alpha = cfg["alpha"][mid]
            frozen = m.get("frozen")
            w = [1.0 if i == frozen else 0.0 for i in range(len(m["ranks"]))] if frozen is not None else softmax(alpha)
            ranked = sum(wk * count(m, r) for wk, r in zip(w, m["ranks"]))
            full = count(m, m["ranks"][-1])
            derived = count(m, m["ranks"][frozen if frozen is not None else argmax(alpha)])
        else:
            ranked = full = derived = count(m, None)
        info[mid] = {"full": full, "ranked": ranked, "derived": derived, "p": softmax(cfg["beta"][mid])[1]}
    # Spec 2.6 with more than lastRounds rounds left: rho = P_j.
    expected = sum(info[m["id"]]["p"] * info[m["id"]]["ranked"] for m in alive)

    # Trigger (spec 2.7): full sizes before the first round, expected ranked sizes after.
    size = (lambda mid: info[mid]["ranked"]) if sched["prunedBefore"] else (lambda mid: info[mid]["full"])
    by_importance = sorted(alive, key=lambda m: (-smoothed[m["id"]], m["id"]))
    chosen, used = set(), 0.0
    for m in by_importance:
        if used + size(m["id"]) <= budget:
            chosen.add(m["id"])
            used += size(m["id"])
        if used >= budget:
            break
    z = [1.0 if m["id"] in chosen else 0.0 for m in modules]

    def cosine(a, b):
        ab = sum(x * y for x, y in zip(a, b))
        aa = sum(x * x for x in a)
        bb = sum(y * y for y in b)
        if aa == 0 and bb == 0:
            return 1.0
        if aa == 0 or bb == 0:
            return 0.0
        return ab / math.sqrt(aa * bb)

    hist = sched["selections"]
    window = sched["window"]
    similarity = None
    fire = False
    if len(hist) > window:
        similarity = sum(cosine(z, hist[-i]) for i in range(1, window + 1)) / window
        fire = similarity >= sched["threshold"]
    out = {"lossArch": loss_a.item(), "lossWeight": loss_w.item(), "raw": raw, "importance": smoothed,
           "expected": expected, "similarity": similarity, "fired": fire}
    if fire:
        # Pruning round (spec 2.8), with peftkit's documented floor (docs/bipeft.md, "Pruning round"):
        # a round never prunes the survivors' derived sizes below B.
        delta = (expected - budget) / remaining
        remaining -= 1
        prune = []
        if delta > 0:
            survivors = sum(info[m["id"]]["derived"] for m in alive)
            ascending = sorted(alive, key=lambda m: (smoothed[m["id"]], m["id"]))
            removed = 0.0
            for m in ascending:
                mid = m["id"]
                if removed + size(mid) > delta or survivors - info[mid]["derived"] < budget:
                    break
                prune.append(mid)
                removed += size(mid)
                survivors -= info[mid]["derived"]
            if not prune and survivors - info[ascending[0]["id"]]["derived"] >= budget:
                prune.append(ascending[0]["id"])
        # Rank freezing (spec 2.9). H: the rank logits after every weight step since the last freezing,
        # this step's included.
        history = {mid: [list(a) for a in h] for mid, h in sched["history"].items()}
        for m in modules:
            if m["ranks"] and m.get("frozen") is None:
                history.setdefault(m["id"], []).append(list(cfg["alpha"][m["id"]]))
        unfrozen = [m for m in alive if m["ranks"] and m.get("frozen") is None and m["id"] not in prune]
        tracked = [mid for mid, h in history.items() if len(h) >= 2]
        fixed = list(sched.get("frozenIndex", {}).values())
        start = [argmax(history[mid][0]) for mid in tracked] + fixed
        end = [argmax(history[mid][-1]) for mid in tracked] + fixed
        gamma = 1.0 if not any(start) or not any(end) else cosine(start, end)
        n_fix = len(unfrozen) if remaining == 1 else (0 if remaining == 0 else math.floor(gamma * len(unfrozen) / remaining))

        def dsi(h):
            t = torch.tensor(h, dtype=torch.float64)
            std = t.std(dim=0, unbiased=True).mean().item()
            p_end = torch.softmax(t[-1], 0)
            p_start = torch.softmax(t[0], 0)
            kl = (p_end * (p_end / p_start).log()).sum().item()
            return std * kl

        ranked_dsi = sorted(((dsi(history[m["id"]]), m["id"]) for m in unfrozen), key=lambda x: (x[0], x[1]))
        freeze = [mid for _, mid in ranked_dsi[:n_fix]]
        out.update({"delta": delta, "prune": prune, "gamma": gamma, "freeze": freeze,
                    "dsi": {mid: d for d, mid in ranked_dsi}})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
