"""The model card (README.md) of a packaged model directory: what it is, how it was trained, its metrics, its limits."""

from __future__ import annotations

from sa2sr_core.config.models import SA2SRConfig
from sa2sr_core.evaluation.tables import (ccc_table, class_table, cross_validation_table, data_table, has_categories,
                                         has_dimensions)
from sa2sr_core.models.directory import ModelDirConfig, demo_pretraining_only, trained_on_demo
from sa2sr_core.names import DIMS


def _loss(task: str) -> str:
    return {"dimensions": "CCC loss", "categories": "cross-entropy of the class head",
            "both": "CCC loss + weighted cross-entropy of the class head"}.get(task, "CCC loss")


def _selection(task: str) -> str:
    return {"dimensions": "mean CCC", "categories": "unweighted accuracy (UA)",
            "both": "mean of UA and mean CCC"}.get(task, "mean CCC")


def _data(name: str) -> str:
    return "the built-in demo corpus" if name == "demo" else name


def _text_route(reg: dict, ftm: dict) -> str:
    """The card's line on the text route (docs/text.md): which transcript, which text model, how it is fused."""
    text = reg["text"]
    source = {"gold": "the corpus's own transcript (yours at inference: `--transcripts`)",
              "asr": "its own CTC transcript" + (" through the lexicon decoder and word LM" if
                                                 (text.get("decoder") or {}).get("kind") == "lexicon" else "")
              }.get(text.get("source"), text.get("source"))
    line = (f"- The regressor also reads the words: {source}, as {reg['text_dim']} features of the text model "
            f"{text.get('text_model')}; ")
    if text.get("fusion") == "late":
        mix = ftm.get("late_fusion") or {}
        weights = ", ".join(f"{k} {mix[k]['weight']:.2f}" for k in (*DIMS, "classes") if k in mix)
        return line + ("late fusion: the speech-only model and the text-only baseline mixed per output with "
                       f"weights chosen on Development{f' (the words: {weights})' if weights else ''}.")
    return line + "concatenated with the pooled sequence and the functionals (docs/text.md)."


def model_card(config: ModelDirConfig, info: dict) -> str:
    """README.md of a model directory. `info`: data (prepare summaries per corpus), pretrain, finetune, eval metrics."""
    lab, feats, prov = config.labels, config.features, config.provenance
    ft = prov.get("finetune") or {}
    ev, data = info.get("eval") or {}, info.get("data") or {}
    demo, data_name = trained_on_demo(info), ev.get("data")
    demo_pre = demo_pretraining_only(demo, data_name)
    encoder = SA2SRConfig.from_dict(config.model["sa2sr"]).encoder
    random_ssl = encoder.kind == "ssl" and encoder.ssl.random
    inputs = (f"{feats['num_mel_bins']}-dim log mel filterbank ({feats['frame_length_ms']:g} ms / "
              f"{feats['frame_shift_ms']:g} ms), normalised per {config.normalization.get('type')}"
              if feats.get("kind", "lfbe") == "lfbe" else
              "the waveform itself (16-bit PCM in 10 ms frames, normalised per utterance inside the model)")
    title = " (DEMO PRE-TRAINING: encoder pre-trained on synthetic speech)" if demo_pre else \
        " (DEMO: trained on synthetic speech)" if demo else ""
    lines = [f"# SA2SR emotion model{title}"
             f"{' (RANDOM-WEIGHT SSL BACKBONE)' if random_ssl else ''}", "",
             "Speech emotion recognition (activation, valence, dominance) on an acoustic encoder pre-trained with "
             "sentiment-aware ASR (SA2SR, ICASSP 2022), plus the pre-training's greedy CTC transcript and text-"
             "sentiment probabilities. Built by the sa2sr pipeline (`dvc repro`).", "",
             "## Use", "", "```", "sa2sr predict --model <this directory> audio/ more.wav --out results.csv", "```", "",
             f"- Input: any audio soundfile reads (wav, flac, mp3, ogg), any sample rate, mono or multi-channel; "
             f"down-mixed and resampled to {feats['sample_rate']} Hz; the encoder reads {inputs}.",
             f"- Output: {', '.join(DIMS)} on the training corpus's scale {config.scale[0]:g}-{config.scale[1]:g} "
             f"({lab.get('training_normalisation', '')}), clipped into that scale (the unclipped values are in "
             "the `<dimension>_raw` columns); P(negative / neutral / positive) of the spoken text; "
             "the transcript (29 symbols: a-z, apostrophe, space).",
             *([f"- Emotion classes ({len(reg['classes'])}): {', '.join(reg['classes'])}: the `category` column "
                "holds the most probable, `p_class_<name>` each one's probability"
                + ("" if reg.get("dimensions", True) else "; this model was trained on classes only, so its "
                   "activation / valence / dominance outputs are untrained and not reported by evaluation")
                + "."] if (reg := config.model["emotion"]["regressor"]).get("classes") else []),
             *([f"- The regressor also reads {config.model['emotion']['regressor']['stats_dim']} utterance "
                "functionals of the unnormalised filterbank (level, spread, energy percentiles, duration), which "
                "per-utterance normalisation removes from the encoder's input."]
               if config.model["emotion"]["regressor"].get("stats_dim") else []),
             *([_text_route(reg, info.get("finetune") or {})] if reg.get("text_dim") else []), "",
             "## Training", "",
             f"- Encoder: {encoder.describe()}"
             + (f"; the self-supervised backbone was NOT pre-trained ({encoder.ssl.model}: a named random "
                "configuration for the demo and the tests)" if random_ssl else "") + ".",
             f"- Pre-training: CTC + lambda x sentiment cross-entropy, lambda = {prov.get('lambda')}, on "
             f"{'the demo LibriSpeech-layout corpus' if demo else 'LibriSpeech'} with pseudo-labels from a text "
             "sentiment model.",
             f"- Fine-tuning{f' on {_data(data_name)}' if data_name else ''}: init {ft.get('init')}, encoder "
             f"{'frozen' if ft.get('freeze_encoder') else 'fine-tuned'}, "
             f"{_loss(ft.get('task', 'dimensions'))}, seed {ft.get('seed')}, lr {ft.get('lr')}, stopped after "
             f"{ft.get('patience')} epochs without a better Development {_selection(ft.get('task', 'dimensions'))} "
             f"(at most {ft.get('max_epochs')}), selected on it."]
    if data:
        lines += ["", *data_table(data)]
    lines += ["", "## Metrics", ""]
    pre, ftm = info.get("pretrain") or {}, info.get("finetune") or {}
    if pre:
        lines.append(f"- Pre-training validation (unseen speakers): CER {pre['cer']:.3f}, sentiment macro AUC "
                     f"{pre['auc']:.3f}, WAR {pre['war']:.3f} (epoch {pre['epoch']}).")
    if "val_ccc_activation" in ftm:
        lines.append(f"- Fine-tuning Development CCC: A {ftm['val_ccc_activation']:.3f}, V {ftm['val_ccc_valence']:.3f},"
                     f" D {ftm['val_ccc_dominance']:.3f} (epoch {ftm['epoch']}).")
    if "val_ua" in ftm:
        lines.append(f"- Fine-tuning Development classes: UA {ftm['val_ua']:.3f}, WA {ftm['val_wa']:.3f}, macro-F1 "
                     f"{ftm['val_macro_f1']:.3f} (epoch {ftm['epoch']}).")
    if ev and has_dimensions(ev):
        lines += ["", *ccc_table(ev), "\nCCC [bootstrap 95% CI] over each whole test split; the baseline is "
                  "ridge regression on utterance functionals of the unnormalised filterbank (stage `baseline`)."]
    if ev and has_categories(ev):
        lines += ["", *class_table(ev), "\nUnweighted accuracy (mean per-class recall), accuracy and macro-F1 "
                  "[bootstrap 95% CI] over each whole test split; the baseline is logistic regression on the same "
                  "utterance functionals (stage `baseline`)."]
    if "cross_validation" in ev:
        fold = info.get("fold") or {}
        lines += ["", "### Cross-validation", "", *cross_validation_table(ev),
                  f"\nLeave one session out: each fold's model is tested on its held-out session and selected on "
                  f"another whole session (Development); mean ± sd over folds, and pooled: every fold's test "
                  f"utterances scored as one set [bootstrap 95% CI]. This directory holds the model of "
                  f"{fold.get('name')} (trained on {', '.join(fold.get('train', []))}; Development "
                  f"{', '.join(fold.get('development', []))}; test {', '.join(fold.get('test', []))})."]
    lines += ["", "## Intended use", "",
              "Research on speech emotion recognition: reproducing and extending SA2SR, comparing pre-training "
              "schemes, scoring emotional dimensions of speech recordings in aggregate.", "",
              "## Limits", ""]
    if demo_pre:
        lines.append(f"- **Pre-trained on the built-in demo corpus** (espeak-ng synthetic voices): the encoder never "
                     f"heard real speech before fine-tuning on {data_name}, so this is not the paper's SA2SR model; "
                     "its figures above are all it can claim.")
    elif demo:
        lines.append("- **Trained on the built-in demo corpus** (espeak-ng synthetic voices, sentences from a "
                     "355-word generator, labels made by rule). It shows the pipeline works; it says nothing about "
                     "real human emotion and must not be used on real recordings for any decision.")
    lines += ["- Not for decisions about individuals (hiring, health, policing, credit): dimensional emotion "
              "estimates are noisy (CCC well below 1) and depend on speaker, language, channel and culture.",
              "- English only; the transcript is greedy CTC without a language model, so expect spelling errors.",
              "- The text sentiment head learned from pseudo-labels of a text model, not from human annotation.",
              "- Long files are cut into speech segments at pauses by a trained voice-activity detector (Silero VAD; "
              "`--vad energy` for an energy rule); the file's scores are the duration-weighted mean over them "
              "(`sa2sr predict --segments` gives each segment's)."]
    return "\n".join(lines) + "\n"
