"""Fixtures the benchmarks (and some tests) share: synthetic shards, random model directories of the paper's
size, real or espeak-ng speech, and a RoBERTa sequence classifier with its tokenizer built locally (no hub).

build_local_roberta:

The tokenizer is a byte-level BPE trained on the given texts; the model has random weights unless
`bias` forces one class. Saved with `save_pretrained`, so it loads through the same
`AutoTokenizer` / `AutoModelForSequenceClassification` path as the real labeller.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from sa2sr_core.config.features import FeatureConfig, functionals_dim
from sa2sr_core.features.shards import Job, build_table
from sa2sr_core.io import atomic_path
from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.names import SENTIMENT_CLASSES


def build_local_roberta(out: str | Path, texts: list[str], id2label: dict[int, str], size: str = "tiny",
                        winner: int | None = None, seed: int = 0) -> Path:
    """Save a RoBERTa classifier under `out`. size: 'tiny' (tests) or 'base' (roberta-base dimensions).
    `winner`: make that output index win for every input (for label-mapping tests)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=2000, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                  sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                  mask_token="<mask>", model_max_length=512)
    tok.save_pretrained(out)
    dims = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64) if size == "tiny" \
        else dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    cfg = RobertaConfig(vocab_size=len(tok), max_position_embeddings=514, num_labels=len(id2label),
                        id2label=id2label, label2id={v: k for k, v in id2label.items()},
                        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        **dims)
    torch.manual_seed(seed)
    model = RobertaForSequenceClassification(cfg).eval()
    if winner is not None:
        with torch.no_grad():
            model.classifier.out_proj.weight.zero_()
            model.classifier.out_proj.bias.zero_()
            model.classifier.out_proj.bias[winner] = 5.0
    model.save_pretrained(out)
    return out


def write_synthetic_shards(out: Path, hours: float, shard_seconds: float = 7200.0, dtype: str = "float32",
                           seed: int = 0) -> pd.DataFrame:
    """Shards of random utterances (2-17 s, LibriSpeech-like) in the features stage's schema; returns labels."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz     '"))
    out.mkdir(parents=True, exist_ok=True)
    total, shard, labels, i = 0.0, 0, [], 0
    while total < hours * 3600:
        jobs, feats, stats, acc = [], [], [], 0.0
        while acc < shard_seconds and total + acc < hours * 3600:
            dur = float(rng.uniform(2.0, 17.0))
            text = "".join(rng.choice(letters, size=int(dur * 14))).strip() or "a"
            uid = f"syn{seed}-{i:08d}"
            jobs.append(Job(uid, uid, "", 1.0, "s", text.upper(), None, None, None, dur))
            feats.append(rng.standard_normal((int(dur * 100) - 2, 40)).astype(np.float32))
            stats.append(rng.standard_normal(functionals_dim(40)).astype(np.float32))
            labels.append({"utt_id": uid, "sentiment": SENTIMENT_CLASSES[i % 3]})
            acc += dur
            i += 1
        with atomic_path(out / f"shard-{shard:05d}.parquet") as tmp:
            pq.write_table(build_table(jobs, feats, stats, FeatureConfig(dtype=dtype)), tmp, compression="lz4", row_group_size=256)
        total += acc
        shard += 1
    return pd.DataFrame(labels)


def paper_size_predictor(encoder: "EncoderConfig | None" = None) -> tuple[torch.nn.Module, dict]:
    """A randomly initialised inference model (default: the paper's size, 5 x BiLSTM(192); or any resolved
    `encoder`, e.g. SSL random-base), encoder run twice, with a minimal config: it costs what a trained one costs to
    run, for benchmarks without a model directory."""
    from dataclasses import asdict

    from sa2sr_core.config.features import ENCODER_KINDS, FeatureConfig
    from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig
    from sa2sr_core.models.predictor import Predictor, PredictorConfig

    torch.manual_seed(0)
    enc = encoder or EncoderConfig()
    emo = EmotionModelConfig(enc, RegressorConfig(input_dim=enc.output_dim))
    cfg = PredictorConfig(SA2SRConfig(encoder=enc), emo, share_encoder=False)
    return Predictor(cfg).eval(), {"features": asdict(FeatureConfig(kind=ENCODER_KINDS[enc.kind])),
                                   "labels": {"scale": [1.0, 7.0]}}


def random_model_dir(out, hidden: int = 192, layers: int = 5, seed: int = 0):
    """A packaged model directory (what stage `package` writes) with random weights of the given encoder size,
    for measuring `sa2sr predict` / `sa2sr serve` without training: it costs what a trained one costs to run."""
    import tempfile
    from dataclasses import asdict

    from sa2sr_core.config.models import EmotionModelConfig, RegressorConfig
    from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
    from sa2sr_core.models import directory
    from sa2sr_core.models.regressor import EmotionModel

    torch.manual_seed(seed)
    enc, feats = EncoderConfig(hidden=hidden, layers=layers), FeatureConfig()
    with tempfile.TemporaryDirectory() as tmp:
        pre, ft = Path(tmp) / "pretrain", Path(tmp) / "finetune"
        asr = SA2SR(SA2SRConfig(encoder=enc))
        directory.save(pre, asr, directory.pretrain_dir_config(asr, feats, asdict(PretrainConfig())))
        emo = EmotionModel(EmotionModelConfig(enc, RegressorConfig(input_dim=enc.output_dim)))
        directory.save(ft, emo, directory.finetune_dir_config(emo, feats, (1.0, 7.0), asdict(FinetuneConfig())))
        directory.package_model(pre, ft, out)
    return Path(out)


#: The demo's MSP-Podcast audio (stage demo_data@msp_podcast): utterances for the inference benchmarks.
DEMO_MSP_AUDIO = Path("data/demo/msp_podcast/MSP-Podcast/Audios")


def speech_utterances(source: Path = DEMO_MSP_AUDIO, n: int = 400, espeak_n: int = 40) -> tuple[list[np.ndarray], str]:
    """Up to n utterances at 16 kHz from an audio directory (searched recursively), or, where it does not exist,
    espeak_n espeak-ng utterances; and where they came from."""
    import random

    from sa2sr_core.audio import AUDIO_EXTENSIONS, load_audio, resample

    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)[:n]
        if files:
            return [load_audio(p, 16000) for p in files], str(source)
    from sa2sr_core.corpora.espeak import Espeak, Prosody
    from sa2sr_core.corpora.sentences import make_sentence

    rng, eng = random.Random(0), Espeak.get()
    return [resample(eng.synthesize(make_sentence(rng, SENTIMENT_CLASSES[i % 3], 2), "en-us",
                                    Prosody(rate=170, volume=100, pitch=50, range=50)), eng.sample_rate, 16000)
            for i in range(espeak_n)], f"espeak-ng utterances (no audio under {source})"
