import random

import numpy as np
import pytest

from benchmarks.fixtures import build_local_roberta
from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.corpora.sentences import make_sentence
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.sentiment.labeler import (
    LabelMappingError,
    RobertaLabeler,
    VaderLabeler,
    class_order,
    label_texts,
    load_labeler,
    prepare_text,
)

TEXTS = [make_sentence(random.Random(i), SENTIMENT_CLASSES[i % 3]) for i in range(60)]
NEW = {0: "negative", 1: "neutral", 2: "positive"}
OLD = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
SHUFFLED = {0: "Positive", 1: "NEGATIVE", 2: "neutral"}


@pytest.mark.parametrize("id2label,winner,expected", [
    (NEW, 2, "positive"), (NEW, 0, "negative"), (OLD, 1, "neutral"), (OLD, 2, "positive"),
    (SHUFFLED, 0, "positive"), (SHUFFLED, 2, "neutral"),
])
def test_real_transformers_path_and_label_mapping(tmp_path, id2label, winner, expected):
    d = build_local_roberta(tmp_path / "m", TEXTS, id2label, winner=winner)
    lab = load_labeler(LabelerConfig(model=str(d), fallback="none"))
    assert isinstance(lab, RobertaLabeler) and lab.name == f"roberta:{d}"
    cols, counts = label_texts(lab, ["I LOVE IT", "", "  ", "café au lait", "word " * 700, None])
    assert cols["sentiment"] == [expected, None, None, expected, expected, None]
    assert counts == {"empty": 3, "truncated": 1, "non_ascii": 1}
    assert cols["status"][4] == "truncated"
    p = np.stack([cols["p_negative"], cols["p_neutral"], cols["p_positive"]], 1)[[0, 3, 4]]
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert (p.argmax(1) == SENTIMENT_CLASSES.index(expected)).all()


def test_batching_does_not_change_outputs(tmp_path):
    d = build_local_roberta(tmp_path / "m", TEXTS, NEW)
    a = RobertaLabeler(LabelerConfig(model=str(d), max_tokens_per_batch=10_000))
    b = RobertaLabeler(LabelerConfig(model=str(d), max_tokens_per_batch=20))  # ~1 sentence per batch
    pa, _ = a.predict(TEXTS)
    pb, _ = b.predict(TEXTS)
    np.testing.assert_allclose(pa, pb, atol=1e-5)


def test_unknown_labels_are_a_clear_error(tmp_path):
    with pytest.raises(LabelMappingError, match="joy"):
        class_order({0: "anger", 1: "joy", 2: "optimism"})
    d = build_local_roberta(tmp_path / "m", TEXTS, {0: "anger", 1: "joy", 2: "sadness"})
    with pytest.raises(LabelMappingError):
        load_labeler(LabelerConfig(model=str(d), fallback="vader"))  # never silently replaced by VADER


def test_missing_model_fallbacks(tmp_path, caplog):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(RuntimeError, match="local directory"):
        load_labeler(LabelerConfig(model=missing, fallback="none"))
    lab = load_labeler(LabelerConfig(model=missing, fallback="vader"))
    assert isinstance(lab, VaderLabeler) and lab.name == "vader"
    assert "FALLING BACK TO VADER" in caplog.text


def test_vader_thresholds_and_probabilities():
    lab = VaderLabeler(LabelerConfig())
    cols, _ = label_texts(lab, ["what a wonderful amazing day", "the box is on the table", "a terrible awful mess"])
    assert cols["sentiment"] == ["positive", "neutral", "negative"]


def test_sentence_case_for_all_caps_only():
    assert prepare_text("I THINK IT'S  GREAT", True) == "I think it's great"
    assert prepare_text("Hello World", True) == "Hello World"
    assert prepare_text("I THINK", False) == "I THINK"


def test_each_transcript_is_labelled_once(tmp_path):
    """pseudo_label sends every transcript through the model once (sentence-cased where ALL CAPS); measuring what
    sentence-casing changes is a study of its own (sentence_case_effect), not a second pass of every stage run."""
    import pandas as pd

    from sa2sr_core.sentiment.labels import pseudo_label_corpus, sentence_case_effect

    class Counting(VaderLabeler):
        seen: list = []

        def predict(self, texts):
            Counting.seen += list(texts)
            return super().predict(texts)

    texts = ["I LOVE THIS DAY", "what a terrible idea", "IT IS A TABLE", ""]
    pd.DataFrame({"utt_id": list("abcd"), "text": texts}).to_parquet(tmp_path / "m.parquet")
    summary = pseudo_label_corpus(tmp_path / "m.parquet", tmp_path / "labels.parquet",
                                  LabelerConfig(sentence_case=True), Counting(LabelerConfig()))
    assert Counting.seen == ["I love this day", "what a terrible idea", "It is a table"]
    assert summary["utterances"] == 4 and sum(summary["per_class"].values()) == 3
    assert pd.read_parquet(tmp_path / "labels.parquet")["utt_id"].tolist() == list("abcd")
    Counting.seen = []
    effect = sentence_case_effect(Counting(LabelerConfig()), texts)
    assert len(Counting.seen) == 6 and effect["labels_changed"] >= 0  # both ways: twice, on request only
