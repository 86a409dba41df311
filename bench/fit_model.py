"""Fine-tune the top layers of the bundled embedding model on Indonesian QA training questions (exploration).

    python bench/fit_model.py [--layers 2] [--steps 150] [--lr 5e-5] [--half A|B] [--all] [--out FILE]

The bundled all-MiniLM-L6-v2 is English; its dense search finds the gold passage first for about a third of
the QA sets' questions. Here its top `--layers` transformer layers (the rest frozen) learn question -> passage
from the training questions (in-batch negatives, one question per passage in a batch). Held-out passages
(qa_sets.heldout) are never read. By default the training paragraphs are split in two (by a hash of their own,
so TyDi QA and IDK-MRC copies of a paragraph fall together): the model learns from one half (--half, A by
default) and is measured on the other, dense search alone (Recall@1 of the gold passage among that half's
passages), before and after. With --all it learns from every training paragraph and measures nothing: the
layers `model.name: bundled-tuned` reads (`--all --layers 3 --steps 450 --out ~/.cache/tanya/tuned-layers.npz`,
16 min on 2 cores; weights are not kept in git).
The tuned layers are written to --out as float16 arrays by parameter name. The two halves' layers are what a
cross-fitted refit of the ranker needs (each half's cosines from the layers that did not see it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
from pathlib import Path

import numpy as np
from qa_sets import CACHE, QA_SETS, heldout, shared_data

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BATCH = 32
PASSAGE_TOKENS = 128  # while training; questions are far shorter
SCALE = 20.0  # cosine -> logits, as sentence-transformers' MultipleNegativesRankingLoss
EVAL_QUESTIONS = 600  # per set


def half(passage_id: str) -> str:
    """A or B: a split of the training paragraphs unrelated to the held-out one."""
    key = passage_id.rsplit("-p-", 1)[-1]
    return "A" if int(hashlib.sha256(("fit-model" + key).encode()).hexdigest()[:8], 16) % 2 else "B"


def load(use_all: bool, learn: str = "A") -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]], dict[str, list]]:
    """Training passages {id: (set, text)}, (question, passage id) pairs to learn, questions to measure."""
    data = shared_data() / "qa"
    passages: dict[str, tuple[str, str]] = {}
    pairs: list[tuple[str, str]] = []
    measure: dict[str, list[tuple[str, str]]] = {}
    for name in QA_SETS:
        with open(data / name / "passages.jsonl", encoding="utf-8") as handle:
            for line in handle:
                passage = json.loads(line)
                if not heldout(passage["id"]):
                    title = passage.get("title") or ""
                    passages[passage["id"]] = (name, f"{title} {passage['text']}".strip())
        with open(data / name / "questions.train.jsonl", encoding="utf-8") as handle:
            for line in handle:
                question = json.loads(line)
                pid = question["passage_id"]
                if not question["answers"] or pid not in passages:
                    continue
                if use_all or half(pid) == learn:
                    pairs.append((question["question"], pid))
                else:
                    measure.setdefault(name, []).append((question["question"], pid))
    return passages, pairs, measure


def recall_at_1(model, passages: dict[str, tuple[str, str]], measure: dict[str, list], other: str) -> dict[str, float]:
    """Dense search alone over the other half's passages of each set: is the gold passage first?"""
    model.eval()
    out = {}
    for name, asked in measure.items():
        asked = random.Random(0).sample(asked, min(EVAL_QUESTIONS, len(asked)))
        ids = [pid for pid, (kind, _) in passages.items() if kind == name and half(pid) == other]
        vectors = model.encode([passages[p][1] for p in ids], batch_size=64, normalize_embeddings=True)
        questions = model.encode([q for q, _ in asked], batch_size=64, normalize_embeddings=True)
        best = np.argmax(questions @ vectors.T, axis=1)
        out[name] = float(np.mean([ids[b] == pid for b, (_, pid) in zip(best, asked, strict=True)]))
    return out


def train(model, passages: dict[str, tuple[str, str]], pairs: list[tuple[str, str]], args) -> None:
    import torch

    bert = model[0].auto_model
    layers = bert.encoder.layer
    for parameter in bert.parameters():
        parameter.requires_grad = False
    tuned = [p for layer in layers[len(layers) - args.layers :] for p in layer.parameters()]
    for parameter in tuned:
        parameter.requires_grad = True
    optimiser = torch.optim.AdamW(tuned, lr=args.lr)
    tokenizer = model.tokenizer

    def embed(texts: list[str], length: int):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=length, return_tensors="pt")
        hidden = bert(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    random.Random(1).shuffle(pairs)
    bert.train()
    started = time.perf_counter()
    for step in range(args.steps):
        window = pairs[(step * BATCH) % len(pairs) :][:BATCH]
        batch = list({p: (q, p) for q, p in reversed(window)}.values())  # one question per passage: no
        # passage may be another question's in-batch negative and its positive at once
        scores = embed([q for q, _ in batch], 64) @ embed([passages[p][1] for _, p in batch], PASSAGE_TOKENS).T
        loss = torch.nn.functional.cross_entropy(scores * SCALE, torch.arange(len(batch)))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step}: loss {loss.item():.3f}, {time.perf_counter() - started:.0f} s", flush=True)
    model.eval()


def rounded(figures: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="top transformer layers to tune")
    parser.add_argument("--steps", type=int, default=150, help=f"batches of {BATCH} questions")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--all", action="store_true", help="learn from every training paragraph; measure nothing")
    parser.add_argument("--half", choices=("A", "B"), default="A", help="the half to learn from; the other is measured")
    parser.add_argument("--out", type=Path, default=CACHE / "tuned-layers.npz", help="where to write the layers")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from tanya.embedding import bundled_model_path

    torch.set_num_threads(os.cpu_count() or 1)
    passages, pairs, measure = load(args.all, args.half)
    other = "B" if args.half == "A" else "A"
    print(f"{len(pairs)} training questions, {len(passages)} training passages", flush=True)
    model = SentenceTransformer(bundled_model_path(), device="cpu")
    if measure:
        print("dense Recall@1 before:", rounded(recall_at_1(model, passages, measure, other)))
    train(model, passages, pairs, args)
    if measure:
        print("dense Recall@1 after: ", rounded(recall_at_1(model, passages, measure, other)))
    layers = model[0].auto_model.encoder.layer
    first = len(layers) - args.layers
    arrays = {
        f"encoder.layer.{first + i}.{name}": parameter.detach().numpy().astype(np.float16)
        for i, layer in enumerate(layers[first:])
        for name, parameter in layer.named_parameters()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()
