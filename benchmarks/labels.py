"""Sentiment labelling throughput: sa2sr's batched labeller vs the naive transformers pipeline loop.

Both use the same locally built roberta-base-sized classifier (random weights: timing and agreement
only, no hub) on the same demo sentences, on CPU. Reports sentences/s, the speed-up, and label agreement.

Usage: python benchmarks/labels.py [--n 256]
       python benchmarks/labels.py --n 8 --size tiny   # smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

import numpy as np
import torch

from fixtures import build_local_roberta
from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.corpora.sentences import make_sentence
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.sentiment.labeler import RobertaLabeler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--size", default="base", choices=["base", "tiny"], help="classifier dimensions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    texts = [make_sentence(rng, SENTIMENT_CLASSES[i % 3], 1 + i % 3) for i in range(args.n)]
    with tempfile.TemporaryDirectory() as d:
        build_local_roberta(d, texts, {0: "negative", 1: "neutral", 2: "positive"}, size=args.size, seed=1)
        from transformers import pipeline

        pipe = pipeline("sentiment-analysis", model=d, tokenizer=d, device=-1)
        pipe(texts[:4])  # warm-up
        t0 = time.perf_counter()
        naive = [pipe(t)[0]["label"] for t in texts]
        t_naive = time.perf_counter() - t0
        lab = RobertaLabeler(LabelerConfig(model=d))
        lab.predict(texts[:4])
        t0 = time.perf_counter()
        probs, _ = lab.predict(texts)
        t_ours = time.perf_counter() - t0
    ours = [SENTIMENT_CLASSES[i] for i in probs.argmax(1)]
    report = {
        "sentences": len(texts), "threads": args.threads, "model": f"roberta-{args.size} dimensions, local, random weights",
        "pipeline_sentences_per_s": round(len(texts) / t_naive, 1),
        "sa2sr_sentences_per_s": round(len(texts) / t_ours, 1),
        "speedup": round(t_naive / t_ours, 2),
        "label_agreement": float(np.mean([a == b for a, b in zip(naive, ours)])),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
