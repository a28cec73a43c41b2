"""Stage text_features' logic: the text vector of every utterance of the fine-tuning corpus (params
`finetune.text`, docs/text.md), computed once per corpus and source: the corpus's own transcripts (gold) or the
pre-trained SA2SR model's CTC transcripts (asr; greedy, or through the lexicon and word bigram LM of the
pre-training transcripts), through the pipeline's text model (params `labeler`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from sa2sr_core.config.labeler import LabelerConfig, labeler_config
from sa2sr_core.config.text import LM_FILE, TextConfig, text_config, text_features_path, word_lm_path
from sa2sr_core.corpora.finetuning import FinetuneCorpus
from sa2sr_core.device import pick_device
from sa2sr_core.features.text import read_text_features, split_transcripts
from sa2sr_core.models.loaders import load_sa2sr
from sa2sr_core.models.transcribe import transcribe_split
from sa2sr_core.models.word_decoder import LexiconDecoder, WordLM, WordLMError
from sa2sr_core.sentiment.labeler import load_labeler
from sa2sr_core.sentiment.text_features import text_feature_table, word_error_counts


def word_lm(pretrain_train_dir) -> WordLM:
    """The lexicon decoder's word LM: the transcripts of the pre-training corpus's training shards (the words the
    recogniser was trained on; a speed-perturbed copy counts as the utterance it copies does)."""
    texts = split_transcripts(pretrain_train_dir)[1]
    if not any(texts):
        raise WordLMError(f"{pretrain_train_dir}: no transcript to build the lexicon decoder's word LM from (the "
                          f"pre-training corpus's training shards): run `dvc repro features`, or set "
                          f"finetune.text.decoder: greedy")
    return WordLM.from_transcripts(texts)


def corpus_transcripts(corpus: FinetuneCorpus, cfg: TextConfig, pretrained_dir=None, device: str = "auto",
                       log=print, lm: WordLM | None = None) -> tuple[list[str], list[str], list, list, list]:
    """(utt_ids, splits, the transcripts the route reads, the corpus's own transcripts, the greedy CTC ones or
    None) over every split of the fine-tuning corpus that has features; `lm`: the lexicon decoder's word LM
    (source asr, decoder lexicon)."""
    ids, splits, texts, refs, greedy = [], [], [], [], []
    model = decoder = None
    if cfg.source == "asr":
        dev = pick_device(device)
        model = load_sa2sr(pretrained_dir, dev)
        if cfg.lexicon:
            decoder = LexiconDecoder(lm, cfg.lm_weight, cfg.nearest, cfg.beam)
    for split, d in corpus.split_dirs().items():
        u, gold = split_transcripts(d)
        ids += u
        splits += [split] * len(u)
        refs += gold
        if model is None:
            texts += gold
            greedy += [None] * len(u)
        else:
            best, hyp = transcribe_split(model, d, dev, desc=f"transcribing {split}", decoder=decoder)
            texts += [hyp[x] for x in u]
            greedy += [best[x] for x in u]
            log(f"{split}: {len(u)} utterances transcribed by {pretrained_dir}"
                f"{' (lexicon and word LM)' if decoder else ''}")
    return ids, splits, texts, refs, greedy


def make_text_features(corpus: FinetuneCorpus, cfg: TextConfig, labeler_cfg: LabelerConfig, pretrained_dir=None,
                       labeler=None, log=print, lm: WordLM | None = None) -> tuple[pd.DataFrame, dict]:
    """The table sa2sr_core.features.text reads and its summary; source none: an empty table (nothing is read).
    Source asr with the lexicon decoder needs `lm` (word_lm); the summary then scores the greedy transcripts too."""
    if not cfg.enabled:
        return text_feature_table([], [], [], [], _NoText(), labeler_cfg.sentence_case, False, "none")
    if cfg.lexicon and lm is None:
        raise ValueError("finetune.text.decoder lexicon needs the word LM of the pre-training transcripts (lm=)")
    ids, splits, texts, refs, greedy = corpus_transcripts(corpus, cfg, pretrained_dir, labeler_cfg.device, log, lm)
    labeler = labeler or load_labeler(labeler_cfg)
    df, summary = text_feature_table(ids, splits, texts, refs, labeler, labeler_cfg.sentence_case, cfg.hidden,
                                     cfg.source)
    if cfg.source == "asr":
        summary["asr"] = {**summary["asr"], **decoder_summary(cfg, lm, refs, greedy)}
    return df, summary


def decoder_summary(cfg: TextConfig, lm: WordLM | None, refs: list, greedy: list) -> dict:
    """The decoder the asr transcripts came through and, for the lexicon decoder, the greedy transcripts' WER and
    CER beside its own (what the lexicon and the word LM bought)."""
    out = {"decoder": cfg.decoder_info()}
    if cfg.lexicon:
        out["decoder"].update(lexicon_words=len(lm.words), bigrams=len(lm.bigrams))
        pairs = [(r, g) for r, g in zip(refs, greedy) if r]
        if pairs:
            out["greedy"] = word_error_counts([r for r, _ in pairs], [g for _, g in pairs])
    return out


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
    info = {"hidden": cfg.hidden, "text_model": text.text_model, "labeler": labeler, "fusion": cfg.fusion}
    if cfg.source == "asr":
        info["decoder"] = cfg.decoder_info()
    return text, info


def copy_word_lm(params: dict, model_dir) -> None:
    """Into a fine-tuned model directory whose text route decodes through the lexicon: the word LM stage
    text_features decoded with, so that inference reads the model's own transcript the same way."""
    if text_config(params).lexicon:
        WordLM.load(word_lm_path(params)).save(Path(model_dir) / LM_FILE)
