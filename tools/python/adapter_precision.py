"""How far float32 is from the exact logits for the peft LoRA fixture (the measurement in docs/interop.md).

    python tools/python/adapter_precision.py OUT_DIR LORA_SCALE

Writes, as hf_fixtures.py does but for bert only, OUT_DIR/bert, OUT_DIR/peft-bert-lora (its LoRA
factors scaled by LORA_SCALE; logits.json = peft's model in float64) and OUT_DIR/probe.jsonl, plus
OUT_DIR/f32.json: the same peft model's logits in float32. tools/adapter-precision.sh then scores the
adapter with `peftkit eval --adapter` and compares the three. Each run trains a new WordPiece vocabulary
(the tokenizers trainer is not deterministic), so repeated runs sample the fixtures a CI run may get.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_fixtures  # noqa: E402
from peft import PeftModel  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

out, scale = sys.argv[1], float(sys.argv[2])
hf_fixtures.LORA_SCALE = scale
torch.manual_seed(1000)  # the seed hf_fixtures.py gives bert
tok, model = hf_fixtures.build("bert")
d = os.path.join(out, "bert")
tok.model_max_length = hf_fixtures.POSITIONS
model.eval().save_pretrained(d)
tok.save_pretrained(d)
hf_fixtures.peft_adapters(out)
tok = AutoTokenizer.from_pretrained(d)
texts = [json.loads(line)["text"] for line in open(os.path.join(out, "probe.jsonl"))]
enc = tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
peft = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(d), os.path.join(out, "peft-bert-lora"))
with torch.no_grad():
    logits = peft.eval()(**enc).logits
with open(os.path.join(out, "f32.json"), "w") as f:
    json.dump(logits.tolist(), f)
