"""The text route end to end on tiny real speech (espeak, transcripts whose sentiment sets the valence): text
features from the corpus's transcripts and from the model's own CTC ones, fine-tuning with them, the text-only
baseline, evaluation."""

import numpy as np
import pandas as pd
import pytest

from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.config.models import EmotionModelConfig, EncoderConfig, RegressorConfig, SA2SRConfig
from sa2sr_core.config.text import TextConfig
from sa2sr_core.config.training import FinetuneConfig, PretrainConfig
from sa2sr_core.corpora.finetuning import AUTO_DIMENSIONS, FinetuneCorpus
from sa2sr_core.evaluation.baseline import fit_fold
from sa2sr_core.evaluation.evaluate import evaluate_splits
from sa2sr_core.features.text import read_text_features
from sa2sr_core.io import write_parquet
from sa2sr_core.models.word_decoder import WordLMError
from sa2sr_core.models.loaders import load_emotion_model
from sa2sr_core.training.finetune import train_emotion
from sa2sr_core.training.pretrain import train_sa2sr
from sa2sr_core.training.text_inputs import make_text_features, word_lm
from tests.helpers import project_baseline_config, speech_shards

ENC = EncoderConfig(hidden=16, layers=1)
QUIET = dict(log=lambda *_: None)
VADER = LabelerConfig(model="/nonexistent/model", fallback="vader")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    train, labels = speech_shards(root, 18, "train", avd=True)
    valid, labels_v = speech_shards(root, 9, "validation", seed=1, avd=True)
    speech_shards(root, 9, "test1", seed=2, avd=True)
    pre = root / "pre"
    train_sa2sr(PretrainConfig(max_epochs=1, max_frames_per_batch=2000), SA2SRConfig(encoder=ENC, summarizer_hidden=8),
                train, valid, pd.concat([labels, labels_v]), pre, **QUIET)
    c = FinetuneCorpus("msp_podcast", "msp_podcast", "features", "t", (1.0, 7.0), AUTO_DIMENSIONS,
                       evaluate_splits=("test1",), manifests_dir=str(root), features_dir=str(root))
    return root, c, pre


def _features(root, corpus, source, pre, **cfg):
    lm = word_lm(corpus.split_dirs()["train"])  # the fixture pre-trains on these shards
    df, summary = make_text_features(corpus, TextConfig(source, **cfg), VADER, pre, lm=lm, **QUIET)
    path = root / source / "features.parquet"
    write_parquet(path, df)
    return read_text_features(path), df, summary


def test_gold_and_asr_text_features_cover_every_split(corpus):
    root, c, pre = corpus
    gold, df, summary = _features(root, c, "gold", pre)
    assert summary["utterances"] == 36 and summary["without_text"] == 0 and gold.source == "gold"
    assert set(summary["splits"]) == {"train", "validation", "test1"} and summary["text_model"] == "vader"
    assert df["transcript"].str.len().gt(0).all()
    asr, df, summary = _features(root, c, "asr", pre)
    assert summary["source"] == "asr" and 0.0 <= summary["asr"]["cer"] and summary["asr"]["utterances"] == 36
    assert df["reference"].notna().all()  # the corpus's transcripts kept beside the model's, for scoring
    assert summary["without_text"] == int((~df["has_text"]).sum())  # what the recogniser left empty is counted
    none, _ = make_text_features(c, TextConfig("none"), VADER, pre)[0], None
    assert len(none) == 0


def test_the_asr_source_reads_through_the_lexicon_and_scores_the_greedy_transcripts_beside(corpus):
    root, c, pre = corpus
    lm = word_lm(c.split_dirs()["train"])
    _, lexicon, summary = _features(root, c, "asr", pre)
    dec, greedy_wer = summary["asr"]["decoder"], summary["asr"]["greedy"]["wer"]
    assert dec["kind"] == "lexicon" and dec["lexicon_words"] == len(lm.words) and dec["lm_weight"] == 1.0
    assert set(summary["asr"]["greedy"]) >= {"wer", "cer", "utterances"}  # what the lexicon bought, beside
    words = {w for t in lexicon["transcript"].dropna() for w in t.split()}
    assert words and words <= set(lm.words)  # a closed vocabulary: the pre-training transcripts' words
    _, greedy, summary = _features(root, c, "asr", pre, decoder="greedy")
    assert summary["asr"]["decoder"] == {"kind": "greedy"} and "greedy" not in summary["asr"]
    assert summary["asr"]["wer"] == greedy_wer  # the same greedy transcripts, scored alike
    with pytest.raises(ValueError, match="word LM"):
        make_text_features(c, TextConfig("asr"), VADER, pre, **QUIET)
    with pytest.raises(WordLMError, match="nowhere: no transcript to build the lexicon decoder's word LM"):
        word_lm(root / "nowhere")


def test_fine_tuning_reads_the_words_and_the_text_only_baseline_beside_it(corpus, tmp_path):
    root, c, pre = corpus
    text, _, _ = _features(root, c, "gold", pre)
    cfg = FinetuneConfig(max_epochs=2, max_frames_per_batch=4000, seed=3)
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    logs = []
    res = train_emotion(cfg, model_cfg, c.dirs(("train",)), c.dirs(("validation",)), tmp_path, pre,
                        baseline_cfg=project_baseline_config(), text=text, text_info={"text_model": "vader"},
                        log=logs.append)
    assert any("functionals + text" in m for m in logs)
    # the start is ridge on [functionals, text]: the words give the valence (it follows the sentence's sentiment)
    assert res["selected"]["val_ccc_valence"] > 0.5
    model = load_emotion_model(tmp_path)
    r = model.cfg.regressor
    assert r.text_dim == 4 and r.text["source"] == "gold" and r.text["features"][:4] == ["p_negative", "p_neutral",
                                                                                         "p_positive", "has_text"]
    results, preds = evaluate_splits(model, {"test1": c.dirs(("test1",))}, cfg, n_boot=50, text=text)
    assert results["test1"]["n"] == 9 and results["test1"]["valence"]["ccc"] > 0.5
    with pytest.raises(ValueError, match="text features"):
        evaluate_splits(model, {"test1": c.dirs(("test1",))}, cfg, n_boot=50)  # a text model without its text
    parts = {"train": c.dirs(("train",)), "validation": c.dirs(("validation",)), "test1": c.dirs(("test1",))}
    frames, out, text_frames, text_out = fit_fold(parts, project_baseline_config(), cfg, model.min_frames(), c, text)
    assert out["functionals"] == 84 and text_out["functionals"] == 4  # the text-only baseline reads the text alone
    assert "text features" in text_out["inputs"]
    assert text_out["test1"]["n"] == 9 and text_out["test1"]["valence"] > 0.8
    assert set(text_frames[0]["utt_id"]) == set(preds["utt_id"])  # the same test utterances as the model
    assert np.isfinite(text_frames[0]["pred_valence"]).all()


def test_late_fusion_trains_the_speech_only_model_and_mixes_the_words_in_on_development(corpus, tmp_path):
    """fusion late: the acoustic half trains epoch for epoch as the speech-only model (the same Development history),
    the text head is the text-only baseline, and the mixing weights chosen on Development are saved with the model:
    its Development figures are the mix's, at least those of either half."""
    root, c, pre = corpus
    text, _, _ = _features(root, c, "gold", pre)
    cfg = FinetuneConfig(max_epochs=2, max_frames_per_batch=4000, seed=3)
    model_cfg = EmotionModelConfig(ENC, RegressorConfig(input_dim=32, stats_dim=84))
    dirs = c.dirs(("train",)), c.dirs(("validation",))
    sound = train_emotion(cfg, model_cfg, *dirs, tmp_path / "sound", pre, baseline_cfg=project_baseline_config(),
                          **QUIET)
    logs = []
    late = train_emotion(cfg, model_cfg, *dirs, tmp_path / "late", pre, baseline_cfg=project_baseline_config(),
                         text=text, text_info={"text_model": "vader", "fusion": "late"}, log=logs.append)
    assert [r["val_ccc_valence"] for r in late["history"]] == [r["val_ccc_valence"] for r in sound["history"]]
    assert any(m.startswith("late fusion: the text head is the text-only baseline") for m in logs)
    mix = late["late_fusion"]
    assert mix["acoustic"]["val_ccc_valence"] == sound["selected"]["val_ccc_valence"]
    v = mix["valence"]
    assert v["fused"] >= max(v["acoustic"], v["text"]) - 1e-9 and v["weight"] > 0  # the words carry the valence
    assert late["selected"]["val_ccc_valence"] == pytest.approx(v["fused"], abs=1e-5)
    model = load_emotion_model(tmp_path / "late")
    assert model.cfg.regressor.late_text
    assert model.regressor.text_weight.tolist() == pytest.approx([mix[d]["weight"] for d in ("activation", "valence",
                                                                                              "dominance")])
    results, _ = evaluate_splits(model, {"validation": dirs[1]}, cfg, n_boot=10, text=text)
    assert results["validation"]["valence"]["ccc"] == pytest.approx(v["fused"], abs=1e-5)
