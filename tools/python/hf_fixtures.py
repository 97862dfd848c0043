"""Golden Hugging Face fixtures, made by the real libraries (a test tool; peftkit never runs Python).

    python tools/python/hf_fixtures.py OUT_DIR

For each architecture peftkit's `hf` backbone supports, OUT_DIR/<arch>/ gets a tiny randomly
initialised checkpoint written by transformers' save_pretrained and a tokenizer whose model was
trained by the `tokenizers` library (WordPiece for bert/distilbert/electra, byte-level BPE for
roberta, Unigram for xlm-roberta) and wrapped in the architecture's own transformers tokenizer
class, which writes tokenizer.json with its normalizer, pre-tokenizer and post-processor.

bert and electra are saved as *ForSequenceClassification checkpoints (a trained head is present:
peftkit must start from it), the others as base models (peftkit starts a fresh head).

OUT_DIR/peft-bert-lora/ is a LoRA adapter made by peft on the bert checkpoint (random non-zero LoRA
weights, two ranks and alphas, the trained classifier in modules_to_save) and OUT_DIR/peft-bert-adalora/ an
AdaLoRA one; OUT_DIR/probe.jsonl holds 100 sentences and peft-bert-lora/logits.json what the adapter's model
gives for them, evaluated in float64 (for the import tests).

The WordPiece and Unigram vocabularies differ from one run of this script to the next: the `tokenizers`
trainers break ties between equally frequent candidates in hash-map order, which Rust seeds per process
(byte-level BPE is stable). The tests hold for any draw; the checkpoints' weights are seeded.

OUT_DIR/golden.json holds what transformers makes of a fixed set of texts and pairs: input_ids,
token_type_ids and attention_mask from the tokenizer (padding, truncation at 24 tokens) and the
encoder's last hidden states in eval mode, and for the checkpoints with a head the logits of
AutoModelForSequenceClassification, so the tests can compare peftkit to them.
"""
import json
import os
import sys

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertTokenizer,
    DistilBertConfig,
    DistilBertModel,
    DistilBertTokenizer,
    ElectraConfig,
    ElectraForSequenceClassification,
    ElectraTokenizer,
    RobertaConfig,
    RobertaModel,
    RobertaTokenizer,
    XLMRobertaConfig,
    XLMRobertaModel,
    XLMRobertaTokenizer,
)

CORPUS = """The river rose slowly after three days of rain, and the old bridge near the mill was closed.
Farmers moved their sheep to higher fields while children watched the water from the hill.
By Thursday the sun returned; the roads dried, the market opened again, and people talked about
the storm for weeks. Some said it was the worst flood in forty years, others remembered worse.
A good bread needs flour, water, salt and time: mix, wait, fold, wait again, then bake it hot.
She wasn't sure the train would leave on time, but it did, at 7:45, exactly as printed.
Reading quickly is useful; reading carefully is better. Questions are often more helpful than answers!
The film was wonderful and the actors were great. I did not like the ending at all.
This phone is terrible, the battery dies in an hour. Excellent service, friendly staff, fair prices.""".split("\n")

# Texts and pairs the parity tests compare; includes unknown characters, accents, case, digits
# and a text long enough to be truncated.
TEXTS = [
    "The river rose slowly.",
    "Farmers moved their SHEEP to higher fields!",
    "She wasn't sure the train would leave at 7:45.",
    "Café naïve zebra ☃ quixotic",
    "a",
    "Reading quickly is useful; reading carefully is better, and questions are often more helpful "
    "than answers when the storm returns to the old bridge near the mill.",
]
PAIRS = [
    ["The film was wonderful.", "The actors were great."],
    ["Is the market open?", "It opened again on Thursday after the flood of forty years."],
]
MAX_LENGTH = 24
HIDDEN, LAYERS, HEADS, INTERMEDIATE, POSITIONS = 32, 2, 4, 64, 64
# Ten times transformers' default, so that a tiny random model's outputs vary visibly between texts.
INIT_STD = 0.2
# The peft LoRA fixture's factors are scaled by this after peft's random init, so the adapter changes the
# logits visibly. 4.0 (BA x16) made pre-LayerNorm activations reach ~130 at a standard deviation of ~1.3,
# where float32 keeps too few digits: torch float32 itself then differed from float64 by up to 1.1e-4 and
# peftkit's float32 by up to 8.3e-5, each its own way (docs/interop.md; tools/adapter-precision.sh).
LORA_SCALE = 2.0


def train(model, trainer, normalizer=None, pre_tokenizer=None):
    tok = Tokenizer(model)
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    tok.train_from_iterator(CORPUS, trainer)
    return json.loads(tok.to_str())["model"]


def wordpiece(cls):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    m = train(
        models.WordPiece(unk_token="[UNK]"),
        trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials),
        normalizers.BertNormalizer(lowercase=True),
        pre_tokenizers.BertPreTokenizer(),
    )
    return cls(vocab=m["vocab"])


def byte_bpe(cls):
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    m = train(
        models.BPE(),
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
        pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=False),
    )
    merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ")) for x in m["merges"]]
    return cls(vocab=m["vocab"], merges=merges)


def unigram(cls):
    m = train(
        models.Unigram(),
        trainers.UnigramTrainer(
            vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"
        ),
        normalizers.NFKC(),
        pre_tokenizers.Metaspace(),
    )
    return cls(vocab=[tuple(v) for v in m["vocab"]])


def common(tok):
    return dict(
        vocab_size=len(tok),
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        pad_token_id=tok.pad_token_id,
        initializer_range=INIT_STD,
    )


def build(arch):
    if arch == "bert":
        tok = wordpiece(BertTokenizer)
        cfg = BertConfig(hidden_size=HIDDEN, max_position_embeddings=POSITIONS, num_labels=2, **common(tok))
        return tok, BertForSequenceClassification(cfg)
    if arch == "roberta":
        tok = byte_bpe(RobertaTokenizer)
        cfg = RobertaConfig(
            hidden_size=HIDDEN, max_position_embeddings=POSITIONS + 2, type_vocab_size=1, **common(tok)
        )
        return tok, RobertaModel(cfg, add_pooling_layer=False)
    if arch == "xlm-roberta":
        tok = unigram(XLMRobertaTokenizer)
        cfg = XLMRobertaConfig(
            hidden_size=HIDDEN, max_position_embeddings=POSITIONS + 2, type_vocab_size=1, **common(tok)
        )
        return tok, XLMRobertaModel(cfg, add_pooling_layer=False)
    if arch == "distilbert":
        tok = wordpiece(DistilBertTokenizer)
        cfg = DistilBertConfig(
            vocab_size=len(tok), dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=INTERMEDIATE,
            max_position_embeddings=POSITIONS, pad_token_id=tok.pad_token_id, initializer_range=INIT_STD,
        )
        return tok, DistilBertModel(cfg)
    if arch == "electra":
        tok = wordpiece(ElectraTokenizer)
        # ELECTRA's embeddings are narrower than its hidden states (embeddings_project), as in the
        # released checkpoints.
        cfg = ElectraConfig(
            hidden_size=HIDDEN, embedding_size=16, max_position_embeddings=POSITIONS, num_labels=2,
            **common(tok),
        )
        return tok, ElectraForSequenceClassification(cfg)
    raise ValueError(arch)


ARCHS = ["bert", "roberta", "distilbert", "xlm-roberta", "electra"]
WITH_HEAD = ["bert", "electra"]


def probe_sentences():
    import random

    rng = random.Random(5)
    words = " ".join(CORPUS).replace(",", "").replace(".", "").split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(100)]


def peft_adapters(out):
    from peft import AdaLoraConfig, LoraConfig, TaskType, get_peft_model

    base = os.path.join(out, "bert")
    tok = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(7)
    model = AutoModelForSequenceClassification.from_pretrained(base)
    cfg = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=4,
        lora_alpha=8,
        target_modules=["query", "value", "intermediate.dense"],
        rank_pattern={"intermediate.dense": 2},
        alpha_pattern={"value": 3},
        init_lora_weights=False,
    )
    model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.mul_(LORA_SCALE)  # visible updates on a tiny random model
            if "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.3)  # a head that differs from the checkpoint's
    model.eval()
    d = os.path.join(out, "peft-bert-lora")
    model.save_pretrained(d)
    texts = probe_sentences()
    with open(os.path.join(out, "probe.jsonl"), "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t, "label": "neg"}) + "\n")
    # The adapter's exact logits: peft's model evaluated in float64, so that the import tests measure
    # peftkit's float32 error alone, not the sum of torch's and peftkit's.
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
        logits = model.double()(**enc).logits
    with open(os.path.join(d, "logits.json"), "w") as f:
        json.dump(logits.tolist(), f)
    ada = get_peft_model(
        AutoModelForSequenceClassification.from_pretrained(base),
        AdaLoraConfig(task_type=TaskType.SEQ_CLS, init_r=4, target_r=2, total_step=10, target_modules=["query"]),
    )
    ada.save_pretrained(os.path.join(out, "peft-bert-adalora"))


def main(out):
    golden = {"maxLength": MAX_LENGTH, "texts": TEXTS, "pairs": PAIRS, "architectures": {}}
    for i, arch in enumerate(ARCHS):
        torch.manual_seed(1000 + i)
        tok, model = build(arch)
        model.eval()
        d = os.path.join(out, arch)
        tok.model_max_length = POSITIONS
        model.save_pretrained(d)
        tok.save_pretrained(d)
        # Read back as a user would, so the golden values are those of the saved files.
        tok = AutoTokenizer.from_pretrained(d)
        base = AutoModel.from_pretrained(d).eval()
        # The checkpoints with a trained head: what transformers' classifier makes of the texts.
        task = AutoModelForSequenceClassification.from_pretrained(d).eval() if arch in WITH_HEAD else None
        rec = {"vocabSize": len(tok), "cases": []}
        for kind, items in (("text", [[t] for t in TEXTS]), ("pair", PAIRS)):
            enc = tok(
                [x[0] for x in items],
                [x[1] for x in items] if kind == "pair" else None,
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="pt",
                return_token_type_ids=True,
            )
            with torch.no_grad():
                kw = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
                if arch != "distilbert":
                    kw["token_type_ids"] = enc["token_type_ids"]
                hidden = base(**kw).last_hidden_state
                logits = task(**kw).logits if task is not None else None
            rec["cases"].append(
                {
                    "kind": kind,
                    "items": items,
                    "input_ids": enc["input_ids"].tolist(),
                    "token_type_ids": enc["token_type_ids"].tolist(),
                    "attention_mask": enc["attention_mask"].tolist(),
                    "hidden": hidden.flatten().tolist(),
                    "hiddenShape": list(hidden.shape),
                    **({"logits": logits.tolist()} if logits is not None else {}),
                }
            )
        golden["architectures"][arch] = rec
    peft_adapters(out)
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f)


if __name__ == "__main__":
    main(sys.argv[1])
