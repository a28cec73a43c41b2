"""The self-contained model directory that `sa2sr predict` and `sa2sr export` use.

    models/sa2sr/
      model.safetensors   all weights: SA2SR encoder + CTC head + sentiment head, emotion encoder, regressor
      config.json         builds the model (PredictorConfig), features, normalisation, label scale, vocabulary
      vocab.json          the 29 CTC symbols
      README.md           model card: data, metrics, intended use, limits

It is assembled by stage `package` from the pre-training and fine-tuning directories, and needs nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from sa2sr_core.config import RANDOM_BACKBONES, FbankConfig
from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import atomic_dir, write_json
from sa2sr_core.models.predictor import Predictor, PredictorConfig
from sa2sr_core.models.regressor import EmotionModelConfig
from sa2sr_core.models.sa2sr import SA2SRConfig
from sa2sr_core.names import DIMS, SENTIMENT_CLASSES
from sa2sr_core.tables import data_table, test_ccc_table
from sa2sr_core.vocab import CHARS

FORMAT = "sa2sr-model/1"

class ModelDirError(Sa2srError):
    """A model directory that cannot be used; the message names the file and what to do."""


def trained_on_demo(info: dict) -> bool:
    """Whether the card's data (prepare summaries, evaluation) say the model was trained on the demo corpus."""
    ev, data = info.get("eval") or {}, info.get("data") or {}
    return ev.get("data") == "demo" or any(v.get("source") == "demo" for v in data.values())


def demo_notice(config: dict) -> str | None:
    """What `sa2sr predict`, `sa2sr serve` and its page say about a model trained on the demo corpus, or on a named
    random SSL backbone (random-tiny / random-base)."""
    notes = []
    if config.get("trained_on_demo"):
        notes.append("DEMO MODEL: trained on the synthetic demo corpus; on real speech its scores are at chance level. "
                     "Train on real corpora (README: Real corpora) before reading anything into them.")
    enc = ((config.get("model") or {}).get("asr") or {}).get("encoder") or {}
    if enc.get("kind") == "ssl" and (enc.get("ssl") or {}).get("model") in RANDOM_BACKBONES:
        notes.append(f"RANDOM SSL BACKBONE: {enc['ssl']['model']} was never self-supervised pre-trained (a named "
                     f"random configuration for the demo and the tests).")
    return " ".join(notes) or None


def _read_json(path: Path) -> dict:
    try:
        out = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelDirError(f"{path} is not valid JSON ({e}): the model directory is damaged; re-run "
                            f"`dvc repro package` or copy it again") from None
    if not isinstance(out, dict):
        raise ModelDirError(f"{path}: expected a JSON object, got {type(out).__name__}")
    return out


def _read_weights(path: Path) -> dict:
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises SafetensorError for a truncated or foreign file
        raise ModelDirError(f"{path} cannot be read ({e.__class__.__name__}: {e}): the weights are truncated or "
                            f"damaged; re-run `dvc repro package` or copy the model directory again") from None


def _read_dir(d: Path, what: str) -> tuple[dict, dict]:
    cfg_path, weights = d / "config.json", d / "model.safetensors"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise ModelDirError(f"{what} model file {p} is missing: run `dvc repro` first")
    return _read_json(cfg_path), _read_weights(weights)


def package_model(pretrain_dir, finetune_dir, out_dir, card: dict | None = None) -> PredictorConfig:
    """Combine models/pretrain (transcript + text sentiment) and models/finetune (emotion) into `out_dir`."""
    pre_cfg, pre_w = _read_dir(Path(pretrain_dir), "pre-trained")
    ft_cfg, ft_w = _read_dir(Path(finetune_dir), "fine-tuned")
    if FbankConfig.from_dict(pre_cfg["features"]) != FbankConfig.from_dict(ft_cfg["features"]):
        raise ModelDirError(f"{pretrain_dir} and {finetune_dir} were trained on different features: "
                            f"{pre_cfg['features']} vs {ft_cfg['features']}")
    ft = ft_cfg.get("finetune", {})
    enc_pre = {k: v for k, v in pre_w.items() if k.startswith("encoder.")}
    enc_ft = {k: v for k, v in ft_w.items() if k.startswith("encoder.")}
    # frozen fine-tuning left the encoder as it was (an SSL encoder: all but its learned layer weights)
    own = {"encoder.layer_weights"} if pre_cfg["model"]["encoder"].get("kind") == "ssl" else set()
    share = ft.get("init") == "pretrained" and enc_pre.keys() == enc_ft.keys() and all(
        torch.equal(enc_pre[k], enc_ft[k]) for k in enc_pre if k not in own)
    cfg = PredictorConfig(SA2SRConfig.from_dict(pre_cfg["model"]), EmotionModelConfig.from_dict(ft_cfg["model"]), share)
    state = {f"asr.{k}": v for k, v in pre_w.items()}
    state.update({f"regressor.{k[len('regressor.'):]}": v for k, v in ft_w.items() if k.startswith("regressor.")})
    if not share:
        state.update({f"emotion_encoder.{k[len('encoder.'):]}": v for k, v in enc_ft.items()})
    elif own:
        state["emotion_layer_weights"] = enc_ft["encoder.layer_weights"]
    Predictor(cfg).load_state_dict(state)  # fails loudly here, not at predict time, if anything does not fit
    config = {"format": FORMAT, "model": cfg.to_dict(), "features": pre_cfg["features"],
              "normalization": pre_cfg.get("normalization", {"type": pre_cfg["features"].get("normalize")}),
              "labels": ft_cfg["labels"], "sentiment_classes": list(SENTIMENT_CLASSES),
              "provenance": {"pretrain": pre_cfg.get("pretrain"), "finetune": ft,
                             "lambda": (pre_cfg.get("pretrain") or {}).get("lambda_")},
              "trained_on_demo": trained_on_demo(card or {})}
    with atomic_dir(out_dir) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / "model.safetensors"))
        write_json(tmp / "config.json", config)
        write_json(tmp / "vocab.json", {"chars": CHARS, "blank": 0})
        (tmp / "README.md").write_text(model_card(config, card or {}))
    return cfg


def load_model(model_dir, device="cpu") -> tuple[Predictor, dict]:
    """(Predictor in eval mode, config.json) from a model directory; ModelDirError says what is wrong."""
    d = Path(model_dir)
    if not d.is_dir():
        raise ModelDirError(f"model directory {d} does not exist: run `dvc repro` (it writes models/sa2sr) or "
                            f"pass --model DIR")
    cfg_path, weights = d / "config.json", d / "model.safetensors"
    for p in (cfg_path, weights, d / "vocab.json"):
        if not p.is_file():
            raise ModelDirError(f"{p} is missing: {d} is not a complete sa2sr model directory")
    config = _read_json(cfg_path)
    if config.get("format") != FORMAT:
        raise ModelDirError(f"{cfg_path}: format {config.get('format')!r}, expected {FORMAT!r} "
                            f"(a models/pretrain or models/finetune directory? use models/sa2sr)")
    vocab = _read_json(d / "vocab.json").get("chars")
    if vocab != CHARS:
        raise ModelDirError(f"{d / 'vocab.json'}: vocabulary differs from this version's 29 symbols")
    try:
        model = Predictor(PredictorConfig.from_dict(config["model"]))
    except (KeyError, TypeError, ValueError) as e:  # e.g. an SSL encoder whose backbone config is missing
        raise ModelDirError(f"{cfg_path}: its model config cannot build a model ({e.__class__.__name__}: {e}); "
                            f"re-run `dvc repro package` or copy the model directory again") from None
    try:
        model.load_state_dict(_read_weights(weights))
    except RuntimeError as e:
        raise ModelDirError(f"{weights} does not fit {cfg_path}: {str(e)[:300]}") from None
    return model.to(device).eval(), config


def model_card(config: dict, info: dict) -> str:
    """README.md of a model directory. `info`: data (prepare summaries per corpus), pretrain, finetune, eval metrics."""
    lab, feats, prov = config["labels"], config["features"], config["provenance"]
    ft = prov.get("finetune") or {}
    ev, data = info.get("eval") or {}, info.get("data") or {}
    demo = trained_on_demo(info)
    encoder = SA2SRConfig.from_dict(config["model"]["asr"]).encoder
    random_ssl = encoder.kind == "ssl" and encoder.ssl.random
    inputs = (f"{feats['num_mel_bins']}-dim log mel filterbank ({feats['frame_length_ms']:g} ms / "
              f"{feats['frame_shift_ms']:g} ms), normalised per {config['normalization'].get('type')}"
              if feats.get("kind", "lfbe") == "lfbe" else
              "the waveform itself (16-bit PCM in 10 ms frames, normalised per utterance inside the model)")
    lines = [f"# SA2SR emotion model{' (DEMO: trained on synthetic speech)' if demo else ''}"
             f"{' (RANDOM-WEIGHT SSL BACKBONE)' if random_ssl else ''}", "",
             "Speech emotion recognition (activation, valence, dominance) on an acoustic encoder pre-trained with "
             "sentiment-aware ASR (SA2SR, ICASSP 2022), plus the pre-training's greedy CTC transcript and text-"
             "sentiment probabilities. Built by the sa2sr pipeline (`dvc repro`).", "",
             "## Use", "", "```", "sa2sr predict --model <this directory> audio/ more.wav --out results.csv", "```", "",
             f"- Input: any audio soundfile reads (wav, flac, mp3, ogg), any sample rate, mono or multi-channel; "
             f"down-mixed and resampled to {feats['sample_rate']} Hz; the encoder reads {inputs}.",
             f"- Output: {', '.join(DIMS)} on the training corpus's scale {lab['scale'][0]:g}-{lab['scale'][1]:g} "
             f"({lab.get('training_normalisation', '')}), clipped into that scale (the unclipped values are in "
             "the `<dimension>_raw` columns); P(negative / neutral / positive) of the spoken text; "
             "the transcript (29 symbols: a-z, apostrophe, space).",
             *([f"- The regressor also reads {config['model']['emotion']['regressor']['stats_dim']} utterance "
                "functionals of the unnormalised filterbank (level, spread, energy percentiles, duration), which "
                "per-utterance normalisation removes from the encoder's input."]
               if config["model"]["emotion"]["regressor"].get("stats_dim") else []), "",
             "## Training", "",
             f"- Encoder: {encoder.describe()}"
             + (f"; the self-supervised backbone was NOT pre-trained ({encoder.ssl.model}: a named random "
                "configuration for the demo and the tests)" if random_ssl else "") + ".",
             f"- Pre-training: CTC + lambda x sentiment cross-entropy, lambda = {prov.get('lambda')}, on "
             f"{'the demo LibriSpeech-layout corpus' if demo else 'LibriSpeech'} with pseudo-labels from a text "
             "sentiment model.",
             f"- Fine-tuning: init {ft.get('init')}, encoder {'frozen' if ft.get('freeze_encoder') else 'fine-tuned'}, "
             f"CCC loss, seed {ft.get('seed')}, lr {ft.get('lr')}, stopped after {ft.get('patience')} epochs "
             f"without a better Development mean CCC (at most {ft.get('max_epochs')}), selected on it."]
    if data:
        lines += ["", *data_table(data)]
    lines += ["", "## Metrics", ""]
    pre, ftm = info.get("pretrain") or {}, info.get("finetune") or {}
    if pre:
        lines.append(f"- Pre-training validation (unseen speakers): CER {pre['cer']:.3f}, sentiment macro AUC "
                     f"{pre['auc']:.3f}, WAR {pre['war']:.3f} (epoch {pre['epoch']}).")
    if ftm:
        lines.append(f"- Fine-tuning Development CCC: A {ftm['val_ccc_activation']:.3f}, V {ftm['val_ccc_valence']:.3f},"
                     f" D {ftm['val_ccc_dominance']:.3f} (epoch {ftm['epoch']}).")
    if any(isinstance(r, dict) and "mean" in r for r in ev.values()):
        lines += ["", *test_ccc_table(ev), "\nCCC [bootstrap 95% CI] over each whole test split; the baseline is "
                  "ridge regression on utterance functionals of the unnormalised filterbank (stage `baseline`)."]
    lines += ["", "## Intended use", "",
              "Research on speech emotion recognition: reproducing and extending SA2SR, comparing pre-training "
              "schemes, scoring emotional dimensions of speech recordings in aggregate.", "",
              "## Limits", ""]
    if demo:
        lines.append("- **Trained on the built-in demo corpus** (espeak-ng synthetic voices, sentences from a "
                     "355-word generator, labels made by rule). It shows the pipeline works; it says nothing about "
                     "real human emotion and must not be used on real recordings for any decision.")
    lines += ["- Not for decisions about individuals (hiring, health, policing, credit): dimensional emotion "
              "estimates are noisy (CCC well below 1) and depend on speaker, language, channel and culture.",
              "- English only; the transcript is greedy CTC without a language model, so expect spelling errors.",
              "- The text sentiment head learned from pseudo-labels of a text model, not from human annotation.",
              "- Long files are cut into speech segments at pauses by an energy voice-activity decision; the file's "
              "scores are the duration-weighted mean over them (`sa2sr predict --segments` gives each segment's)."]
    return "\n".join(lines) + "\n"
