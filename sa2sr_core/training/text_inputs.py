"""Stage text_features' logic: the text vector of every utterance of the fine-tuning corpus (params
`finetune.text`, docs/text.md), computed once per corpus and source: the corpus's own transcripts (gold) or the
pre-trained SA2SR model's greedy CTC transcripts (asr), through the pipeline's text model (params `labeler`)."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from sa2sr_core.config.labeler import LabelerConfig, labeler_config
from sa2sr_core.config.text import TextConfig, text_config, text_features_path
from sa2sr_core.corpora.finetuning import FinetuneCorpus
from sa2sr_core.device import pick_device
from sa2sr_core.features.text import read_text_features, split_transcripts
from sa2sr_core.models.loaders import load_sa2sr
from sa2sr_core.models.transcribe import transcribe_split
from sa2sr_core.sentiment.labeler import load_labeler
from sa2sr_core.sentiment.text_features import text_feature_table


def corpus_transcripts(corpus: FinetuneCorpus, cfg: TextConfig, pretrained_dir=None, device: str = "auto",
                       log=print) -> tuple[list[str], list[str], list, list]:
    """(utt_ids, splits, the transcripts the route reads, the corpus's own transcripts) over every split of the
    fine-tuning corpus that has features."""
    ids, splits, texts, refs = [], [], [], []
    model = None
    if cfg.source == "asr":
        dev = pick_device(device)
        model = load_sa2sr(pretrained_dir, dev)
    for split, d in corpus.split_dirs().items():
        u, gold = split_transcripts(d)
        ids += u
        splits += [split] * len(u)
        refs += gold
        if model is None:
            texts += gold
        else:
            hyp = transcribe_split(model, d, dev, desc=f"transcribing {split}")
            texts += [hyp[x] for x in u]
            log(f"{split}: {len(u)} utterances transcribed by {pretrained_dir}")
    return ids, splits, texts, refs


def make_text_features(corpus: FinetuneCorpus, cfg: TextConfig, labeler_cfg: LabelerConfig, pretrained_dir=None,
                       labeler=None, log=print) -> tuple[pd.DataFrame, dict]:
    """The table sa2sr_core.features.text reads and its summary; source none: an empty table (nothing is read)."""
    if not cfg.enabled:
        return text_feature_table([], [], [], [], _NoText(), labeler_cfg.sentence_case, False, "none")
    ids, splits, texts, refs = corpus_transcripts(corpus, cfg, pretrained_dir, labeler_cfg.device, log)
    labeler = labeler or load_labeler(labeler_cfg)
    return text_feature_table(ids, splits, texts, refs, labeler, labeler_cfg.sentence_case, cfg.hidden, cfg.source)


class _NoText:
    """The labeller of source none: it is never asked for anything."""

    name = None

    def predict(self, texts):  # pragma: no cover - embed_texts sends it no text
        raise AssertionError("source none reads no text")


def text_route(params: dict):
    """(TextFeatures, what makes them) of params `finetune.text` for fine-tuning — the features stage text_features
    wrote and the text model that made them (saved with the model, so that predict makes the same) — or (None, {})
    for source none."""
    cfg = text_config(params)
    if not cfg.enabled:
        return None, {}
    text = read_text_features(text_features_path(params))
    if text.source != cfg.source:
        raise ValueError(f"{text_features_path(params)} holds {text.source!r} text features, params finetune.text.source "
                         f"is {cfg.source!r}: run `dvc repro text_features`")
    labeler = asdict(labeler_config(params))
    labeler.pop("device", None)
    return text, {"hidden": cfg.hidden, "text_model": text.text_model, "labeler": labeler}
