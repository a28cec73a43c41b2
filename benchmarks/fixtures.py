"""Fixtures the benchmarks (and some tests) share: synthetic shards, random model directories of the paper's
size, real or espeak-ng speech, and a RoBERTa sequence classifier with its tokenizer built locally (no hub).

build_local_roberta:

The tokenizer is a byte-level BPE trained on the given texts; the model has random weights unless
`bias` forces one class. Saved with `save_pretrained`, so it loads through the same
`AutoTokenizer` / `AutoModelForSequenceClassification` path as the real labeller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from sa2sr_core.config.features import FeatureConfig, functionals_dim
from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.features.shards import Job, build_table
from sa2sr_core.io import atomic_path
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
    from sa2sr_core.models.directory import ModelDirConfig

    features = FeatureConfig(kind=ENCODER_KINDS[enc.kind])
    return Predictor(cfg).eval(), ModelDirConfig("package", cfg.to_dict(), asdict(features),
                                                 {"type": features.normalize}, labels={"scale": [1.0, 7.0]})


def random_model_dir(out, hidden: int = 192, layers: int = 5, seed: int = 0):
    """A packaged model directory (what stage `package` writes) with random weights of the given encoder size,
    for measuring `sa2sr predict` / `sa2sr serve` without training: it costs what a trained one costs to run."""
    import tempfile
    from dataclasses import asdict

    from sa2sr_core.config.models import EmotionModelConfig, RegressorConfig
    from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
    from sa2sr_core.models import directory
    from sa2sr_core.models.packaged import package_model
    from sa2sr_core.models.regressor import EmotionModel

    torch.manual_seed(seed)
    enc, feats = EncoderConfig(hidden=hidden, layers=layers), FeatureConfig()
    with tempfile.TemporaryDirectory() as tmp:
        pre, ft = Path(tmp) / "pretrain", Path(tmp) / "finetune"
        asr = SA2SR(SA2SRConfig(encoder=enc))
        directory.save(pre, asr, directory.pretrain_dir_config(asr, feats, asdict(PretrainConfig())))
        emo = EmotionModel(EmotionModelConfig(enc, RegressorConfig(input_dim=enc.output_dim)))
        directory.save(ft, emo, directory.finetune_dir_config(emo, feats, (1.0, 7.0), asdict(FinetuneConfig())))
        package_model(pre, ft, out)
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


#: Real recordings beside the project (../shared/data: LibriSpeech, CREMA-D, RAVDESS), where present.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_utterances(root: Path = SHARED_DATA, ravdess_every: int = 24) -> tuple[list[np.ndarray], str]:
    """Real speech at 16 kHz: the LibriSpeech and CREMA-D samples and every `ravdess_every`-th RAVDESS file under
    ../shared/data; where that is absent, the demo's utterances (or espeak-ng), and where they came from."""
    from sa2sr_core.audio import load_audio

    root = Path(root)
    files = [*sorted((root / "librispeech-test-clean-sample").rglob("*.flac")),
             *sorted((root / "crema-d-sample").glob("*.wav")),
             *sorted((root / "ravdess-actors-01-12").glob("*.flac"))[::ravdess_every]]
    if not files:
        return speech_utterances(DEMO_MSP_AUDIO, 40, 12)
    return [load_audio(p, 16000) for p in files], f"{len(files)} real recordings under {root}"


# ----------------------------------------------------------------------------------------- non-speech, mixed in
#: The kinds of non-speech the noisy recordings put in their pauses.
NON_SPEECH_KINDS = ("room", "hum", "music", "keyboard")


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of 1/f noise (unit RMS): white noise shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def non_speech(kind: str, n: int, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """n samples of one kind of non-speech at unit RMS: stationary room noise (low-passed pink), mains hum with
    harmonics, synthesised instrumental music (chords of harmonic tones), keyboard clicks (decaying bursts)."""
    t = np.arange(n) / sr
    if kind == "room":
        x = pink_noise(n, rng)
        x = np.convolve(x, np.ones(8) / 8, mode="same")  # a room: the highs absorbed
    elif kind == "hum":
        f0 = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 9))
    elif kind == "music":
        scale = 220.0 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
        x, beat = np.zeros(n), int(0.5 * sr)
        for start in range(0, n, beat):  # a chord every half second, each note with 6 harmonics and a decay
            m = min(beat, n - start)
            tt = np.arange(m) / sr
            for note in rng.choice(scale, size=3, replace=False):
                x[start:start + m] += sum(np.sin(2 * np.pi * note * k * tt) / k ** 1.5 for k in range(1, 7)) * \
                    np.exp(-3.0 * tt)
    elif kind == "keyboard":
        x = np.zeros(n)
        for at in np.sort(rng.integers(0, max(1, n - 400), size=max(1, int(8 * n / sr)))):  # ~8 keys a second
            burst = rng.standard_normal(400) * np.exp(-np.arange(400) / 40.0)
            x[at:at + 400] += np.diff(burst, prepend=0.0)  # clicks are bright
    else:
        raise ValueError(f"unknown non-speech kind {kind!r}; one of {NON_SPEECH_KINDS}")
    x = np.asarray(x, np.float64)
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def _frame_db(x: np.ndarray) -> np.ndarray:
    n = len(x) // 160
    return 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160), dtype=np.float64), axis=1) + 1e-10)


def speech_span(x: np.ndarray) -> tuple[int, int]:
    """[first, last) 10-ms frame of an utterance's speech: frames more than 20 dB above its own noise floor (the
    energy decision, exact on clean speech), inner pauses included."""
    e = _frame_db(x)
    on = np.flatnonzero(e > np.percentile(e, 10) + 20)
    return (int(on[0]), int(on[-1]) + 1) if len(on) else (0, 0)


@dataclass
class NoisyRecording:
    """A recording and its truth per 10-ms frame: `speech` (inside an utterance's speech span), `pause` (an inserted
    pause), `kind` (the pause's kind of non-speech, or ''), `quiet` (a pause, or a frame of an utterance less than
    20 dB above its own noise floor before mixing: its leading, trailing and inner silences)."""

    audio: np.ndarray
    speech: np.ndarray
    pause: np.ndarray
    kind: np.ndarray
    quiet: np.ndarray


def noisy_recording(utterances, below_db: float, kinds=NON_SPEECH_KINDS, bed_db: float = 20.0,
                    pause_s: tuple[float, float] = (2.0, 4.0), seconds: float = 300.0, seed: int = 0
                    ) -> NoisyRecording:
    """Real speech joined by pauses that hold non-speech `below_db` dB below the speech (RMS over its speech frames),
    the kinds in turn, and pink noise `bed_db` below it over the whole recording (16 kHz)."""
    rng = np.random.default_rng(seed)
    spans = [speech_span(u) for u in utterances]
    level = np.sqrt(np.mean(np.concatenate([u[a * 160: b * 160] for u, (a, b) in zip(utterances, spans)]) ** 2))
    parts, speech, pause, kind_of, quiet, t, i = [], [], [], [], [], 0.0, 0
    while t < seconds:
        k = kinds[i % len(kinds)]
        p = non_speech(k, int(rng.uniform(*pause_s) * 100) * 160, rng) * level * 10 ** (-below_db / 20)
        u = utterances[i % len(utterances)].astype(np.float32)
        u = u[: len(u) // 160 * 160]
        a, b = spans[i % len(utterances)]
        frames, e = np.arange(len(u) // 160), _frame_db(u)
        parts += [p, u]
        speech += [np.zeros(len(p) // 160, bool), (frames >= a) & (frames < b)]
        pause += [np.ones(len(p) // 160, bool), np.zeros(len(u) // 160, bool)]
        kind_of += [np.full(len(p) // 160, k, object), np.full(len(u) // 160, "", object)]
        quiet += [np.ones(len(p) // 160, bool), e < np.percentile(e, 10) + 20]
        t += (len(p) + len(u)) / 16000
        i += 1
    x = np.concatenate(parts)
    x = x + pink_noise(len(x), rng) * level * 10 ** (-bed_db / 20)
    peak = np.abs(x).max()
    return NoisyRecording((x / peak * 0.9 if peak > 0.9 else x).astype(np.float32), np.concatenate(speech),
                          np.concatenate(pause), np.concatenate(kind_of), np.concatenate(quiet))


def scored_frames(segments, num_frames: int, sr: int = 16000) -> np.ndarray:
    """Per 10-ms frame: inside a SPEECH segment (what the model scores)."""
    out = np.zeros(num_frames, bool)
    for s in segments:
        if s.kind == "speech":
            out[s.start // 160: -(-s.end // 160)] = True
    return out


def gap_distance(points, gap: np.ndarray, min_gap_s: float = 0.2) -> np.ndarray:
    """Distance (s) of each time point to the nearest gap: a run of at least min_gap_s of 10-ms frames where `gap`
    is true (0 when the point lies in one)."""
    edges = np.diff(np.concatenate([[0], np.asarray(gap).astype(np.int8), [0]]))
    runs = [(a, b) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)) if b - a >= min_gap_s * 100]
    if not runs:
        return np.full(len(points), np.inf)
    starts, ends = np.array([a for a, _ in runs]) * 0.01, np.array([b for _, b in runs]) * 0.01
    return np.array([0.0 if ((starts <= x) & (x <= ends)).any() else
                     float(np.min(np.minimum(np.abs(starts - x), np.abs(ends - x)))) for x in points])
