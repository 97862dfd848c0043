"""Load peftkit's exports with the real libraries and compare their logits with peftkit's.

    python tools/python/peft_roundtrip.py < cases.json > results.json

cases.json: {"cases": [{"name", "adapter": DIR, "texts": [...], "pairs": [...]?, "logits": [[...]],
"maxLength": N}]}: the adapter directory peftkit exported and the logits peftkit computed for the
texts. For each case, as a user would: AutoPeftModelForSequenceClassification.from_pretrained(DIR)
(the base model from adapter_config.json's base_model_name_or_path), AutoTokenizer of that base,
and the logits in eval mode. Reported per case: maxDiff (max |peft - peftkit|), the warnings
raised while loading (peft warns of missing or unexpected adapter keys), the keys of the adapter
file that the loaded model does not have and the adapter keys of the model the file lacks, and
peft_type / task_type as peft parsed them.

A case with "onnx": DIR instead of "adapter" is a `peftkit export --format onnx` directory: its
model.onnx runs in onnxruntime fed by AutoTokenizer.from_pretrained(DIR) (the tokenizer files and
config.json beside it), with the inputs the model declares; maxDiff as above, plus the inputs'
names and types.
"""
import json
import logging
import os
import sys
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch
from peft import AutoPeftModelForSequenceClassification, get_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoTokenizer


def check(case):
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Capture(level=logging.WARNING)
    for name in ("peft", "transformers"):
        logging.getLogger(name).addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AutoPeftModelForSequenceClassification.from_pretrained(case["adapter"])
    for name in ("peft", "transformers"):
        logging.getLogger(name).removeHandler(handler)
    messages = [str(w.message) for w in caught] + records
    key_warnings = [m for m in messages if "missing" in m.lower() or "unexpected" in m.lower()]
    model.eval()
    cfg = model.peft_config["default"]
    tok = AutoTokenizer.from_pretrained(cfg.base_model_name_or_path)
    enc = tok(
        case["texts"],
        case.get("pairs"),
        padding=True,
        truncation=True,
        max_length=case["maxLength"],
        return_tensors="pt",
    )
    with torch.no_grad():
        logits = model(**enc).logits
    want = torch.tensor(case["logits"], dtype=logits.dtype)
    in_file = set(load_file(os.path.join(case["adapter"], "adapter_model.safetensors")).keys())
    in_model = set(get_peft_model_state_dict(model).keys())
    return {
        "name": case["name"],
        "maxDiff": float((logits - want).abs().max()),
        "logitSpread": float((want - want.mean(0)).abs().max()),
        "keyWarnings": key_warnings,
        "fileKeysNotInModel": sorted(in_file - in_model),
        "modelKeysNotInFile": sorted(in_model - in_file),
        "peftType": str(cfg.peft_type.value if hasattr(cfg.peft_type, "value") else cfg.peft_type),
        "taskType": str(cfg.task_type.value if hasattr(cfg.task_type, "value") else cfg.task_type),
    }


def check_onnx(case):
    import numpy as np
    import onnxruntime
    from transformers import AutoConfig

    d = case["onnx"]
    tok = AutoTokenizer.from_pretrained(d)
    config = AutoConfig.from_pretrained(d)
    session = onnxruntime.InferenceSession(os.path.join(d, "model.onnx"))
    enc = tok(case["texts"], case.get("pairs"), padding=True, truncation=True, max_length=case["maxLength"], return_tensors="np")
    inputs = {i.name: i.type for i in session.get_inputs()}
    logits = session.run(["logits"], {k: enc[k] for k in inputs})[0]
    want = np.array(case["logits"], dtype=np.float32)
    return {
        "name": case["name"],
        "maxDiff": float(np.abs(logits - want).max()),
        "logitSpread": float(np.abs(want - want.mean(0)).max()),
        "inputs": inputs,
        "id2label": {str(k): v for k, v in config.id2label.items()},
    }


def main():
    spec = json.load(sys.stdin)
    json.dump({"results": [check_onnx(c) if "onnx" in c else check(c) for c in spec["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
