"""Load peftkit's PEFT adapters with the real peft + transformers and compare their logits.

    python tools/python/peft_roundtrip.py < cases.json > results.json

cases.json: {"cases": [{"name", "adapter": DIR, "texts": [...], "pairs": [...]?, "logits": [[...]],
"maxLength": N}]}: the adapter directory peftkit exported and the logits peftkit computed for the
texts. For each case, as a user would: AutoPeftModelForSequenceClassification.from_pretrained(DIR)
(the base model from adapter_config.json's base_model_name_or_path), AutoTokenizer of that base,
and the logits in eval mode. Reported per case: maxDiff (max |peft - peftkit|), the warnings
raised while loading (peft warns of missing or unexpected adapter keys), the keys of the adapter
file that the loaded model does not have and the adapter keys of the model the file lacks, and
peft_type / task_type as peft parsed them.
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


def main():
    spec = json.load(sys.stdin)
    json.dump({"results": [check(c) for c in spec["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
