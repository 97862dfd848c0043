#!/usr/bin/env bash
# The precision of a LoRA adapter made by peft and scored by peftkit, over fresh fixtures
# (docs/interop.md, "Precision of adapters made by peft"):
#
#   PEFTKIT_PYTHON=.venv/bin/python bash tools/adapter-precision.sh LORA_SCALE [DRAWS]
#
# Per draw: tools/python/adapter_precision.py makes the bert fixture and its peft adapter (factors x
# LORA_SCALE), `peftkit eval --adapter` scores it on 100 sentences, and one line reports
# max |peftkit - peft float64|, max |peft float32 - peft float64| and max |peftkit - peft float32|.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PEFTKIT_PYTHON:-$root/.venv/bin/python}
scale=$1
draws=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$draws"); do
  fx=$work/draw$i
  mkdir -p "$fx/run"
  HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error OMP_NUM_THREADS=1 "$py" "$root/tools/python/adapter_precision.py" "$fx" "$scale" >/dev/null
  head -32 "$fx/probe.jsonl" >"$fx/run/train.jsonl"
  cat >"$fx/run/bert.yaml" <<EOT
backbone: { name: hf, options: { path: $fx/bert, maxLength: 32 } }
task: { name: jsonl, options: { train: ./train.jsonl, validation: ./train.jsonl, test: $fx/probe.jsonl, labels: [neg, pos] } }
seeds: [3]
output: { dir: ./runs, name: from-adapter }
EOT
  (cd "$fx/run" && node "$root/core/cli/bin/peftkit.js" eval --adapter "$fx/peft-bert-lora" --preset bert.yaml \
    --split test --predictions preds.jsonl --json >/dev/null)
  "$py" - "$fx" "$scale" <<'EOP'
import json, sys
import numpy as np
fx, scale = sys.argv[1], sys.argv[2]
got = np.array([json.loads(line)["logits"] for line in open(fx + "/run/preds.jsonl")])
f64 = np.array(json.load(open(fx + "/peft-bert-lora/logits.json")))
f32 = np.array(json.load(open(fx + "/f32.json")))
print(json.dumps({"loraScale": float(scale), "peftkitVsPeftF64": float(np.abs(got - f64).max()),
                  "peftF32VsPeftF64": float(np.abs(f32 - f64).max()), "peftkitVsPeftF32": float(np.abs(got - f32).max())}))
EOP
done
