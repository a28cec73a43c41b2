import random

import numpy as np
import pytest

from benchmarks.fixtures import build_local_roberta
from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.corpora.sentences import make_sentence
from sa2sr_core.features.text import TextFeaturesError
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.sentiment.labeler import RobertaLabeler, VaderLabeler
from sa2sr_core.sentiment.text_features import embed_texts, text_feature_table, word_error_counts

TEXTS = [make_sentence(random.Random(i), SENTIMENT_CLASSES[i % 3]) for i in range(30)]


class Counting(VaderLabeler):
    def __init__(self):
        super().__init__(LabelerConfig())
        self.seen = []

    def predict(self, texts):
        self.seen += texts
        return super().predict(texts)


def test_missing_and_empty_transcripts_get_the_no_text_input_and_never_reach_the_model():
    lab = Counting()
    df, summary = text_feature_table(["a", "b", "c", "d"], ["train", "train", "test1", "test1"],
                                     ["I love this wonderful day", None, "   ", "This is awful"],
                                     ["x", "y", "z", "w"], lab, True, False, "gold")
    assert lab.seen == ["I love this wonderful day", "This is awful"]  # each text once, none of the empty ones
    assert df["has_text"].tolist() == [True, False, False, True]
    assert df.loc[1, ["p_negative", "p_neutral", "p_positive"]].tolist() == [0.0, 0.0, 0.0]
    assert df.loc[0, "p_positive"] > 0.9 and df.loc[3, "p_negative"] > 0.9
    assert summary["without_text"] == 2 and summary["utterances"] == 4
    assert summary["splits"] == {"train": {"utterances": 2, "without_text": 1},
                                 "test1": {"utterances": 2, "without_text": 1}}
    assert summary["text_model"] == "vader" and summary["features"] == 4 and "asr" not in summary


def test_asr_source_is_scored_against_the_corpus_transcripts():
    _, summary = text_feature_table(["a", "b", "c"], ["t"] * 3, ["the cat sat", "", "hello"],
                                    ["The cat sat.", "A dog", None], VaderLabeler(LabelerConfig()), True, False, "asr")
    # "the cat sat" vs "the cat sat": 0 edits; "" vs "a dog": 2 word edits (5 chars); "hello" has no reference
    assert summary["asr"]["utterances"] == 2 and summary["asr"]["reference_words"] == 5
    assert summary["asr"]["wer"] == pytest.approx(2 / 5) and summary["asr"]["cer"] == pytest.approx(5 / 16)


def test_word_error_counts_ignore_case_and_punctuation():
    assert word_error_counts(["Hello, World!"], ["hello world"])["wer"] == 0.0
    assert word_error_counts(["a b c d"], ["a x c"])["wer"] == 0.5


def test_pooled_hidden_state_from_a_transformer_and_a_named_error_for_vader(tmp_path):
    d = build_local_roberta(tmp_path / "m", TEXTS, {0: "negative", 1: "neutral", 2: "positive"})
    lab = RobertaLabeler(LabelerConfig(model=str(d)))
    probs, has, pooled = embed_texts(lab, [TEXTS[0], None, TEXTS[1]], True, hidden=True)
    assert pooled.shape == (3, lab.model.config.hidden_size) and has.tolist() == [True, False, True]
    np.testing.assert_array_equal(pooled[1], 0.0)
    alone, _ = lab.embed([TEXTS[1]])  # batching and padding do not change a text's features
    p2, h2 = lab.embed([TEXTS[1], TEXTS[0] + " " + TEXTS[2]])
    np.testing.assert_allclose(h2[0], pooled[2], atol=1e-5)
    np.testing.assert_allclose(p2[0], probs[2], atol=1e-5)
    df, summary = text_feature_table(["a", "b"], ["s", "s"], [TEXTS[0], None], [None, None], lab, True, True, "gold")
    assert summary["features"] == 4 + lab.model.config.hidden_size and len(df["hidden"][0]) == lab.model.config.hidden_size
    with pytest.raises(TextFeaturesError, match="hidden.*vader"):
        embed_texts(VaderLabeler(LabelerConfig()), ["good"], True, hidden=True)
