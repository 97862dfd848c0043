"""Check with huggingface_hub and transformers that a hub cache peftkit filled is one they read.

    python tools/python/hub_cache_check.py CACHE REPO_ID CHECKPOINT_DIR > result.json

With HF_HUB_CACHE=CACHE and HF_HUB_OFFLINE=1: huggingface_hub's scan_cache_dir (its own validation
of the layout: refs, snapshots, blobs), then AutoTokenizer / AutoModel.from_pretrained(REPO_ID,
local_files_only=True) and the same from CHECKPOINT_DIR (the files the loopback hub served);
reported: the scan's repos and warnings, and max |hidden states| difference of the two on a text.
"""
import json
import os
import sys

cache, repo_id, checkpoint = sys.argv[1:4]
os.environ["HF_HUB_CACHE"] = cache
os.environ["HF_HUB_OFFLINE"] = "1"

import torch
from huggingface_hub import scan_cache_dir
from transformers import AutoModel, AutoTokenizer

scan = scan_cache_dir(cache)
text = ["The river rose slowly after three days of rain."]
out = {}
for name, source in (("cache", repo_id), ("dir", checkpoint)):
    kw = {"local_files_only": True} if name == "cache" else {}
    tok = AutoTokenizer.from_pretrained(source, **kw)
    model = AutoModel.from_pretrained(source, **kw).eval()
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        out[name] = (enc["input_ids"].tolist(), model(**enc).last_hidden_state)
json.dump(
    {
        "repos": [
            {"repo_id": r.repo_id, "refs": sorted(r.refs), "files": sorted(f.file_name for rev in r.revisions for f in rev.files)}
            for r in scan.repos
        ],
        "warnings": [str(w) for w in scan.warnings],
        "sameIds": out["cache"][0] == out["dir"][0],
        "maxDiff": float((out["cache"][1] - out["dir"][1]).abs().max()),
    },
    sys.stdout,
)
