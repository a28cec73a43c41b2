import numpy as np
import pandas as pd
import pytest

from sa2sr_core.features.text import (TEXT_FEATURES, TextFeaturesError, clean_transcript, read_text_features,
                                      split_transcripts, text_vectors)


def test_clean_transcript_tells_none_from_text():
    assert [clean_transcript(t) for t in (None, float("nan"), "", "   \n", " so  happy ")] == \
        [None, None, None, None, "so happy"]


def test_no_text_rows_are_all_zero_and_flagged():
    probs = np.array([[0.1, 0.8, 0.1], [np.nan, np.nan, np.nan], [0.7, 0.2, 0.1]], np.float32)
    x = text_vectors(probs, np.array([True, False, True]), np.ones((3, 2), np.float32))
    assert x.shape == (3, 6)
    np.testing.assert_array_equal(x[1], 0.0)
    np.testing.assert_allclose(x[0], [0.1, 0.8, 0.1, 1.0, 1.0, 1.0])  # neutral text differs from no text by has_text


def test_read_roundtrip_and_a_missing_utterance_is_named(tmp_path):
    df = pd.DataFrame({"utt_id": ["a", "b"], "split": "train", "source": "gold", "transcript": ["good", None],
                       "reference": ["good", None], "has_text": [True, False], "p_negative": [0.1, 0.0],
                       "p_neutral": [0.2, 0.0], "p_positive": [0.7, 0.0]})
    df.to_parquet(tmp_path / "features.parquet")
    t = read_text_features(tmp_path / "features.parquet")
    assert t.source == "gold" and t.names == TEXT_FEATURES and t.dim == 4
    np.testing.assert_allclose(t.vectors(["b", "a"]), [[0, 0, 0, 0], [0.1, 0.2, 0.7, 1.0]], atol=1e-7)
    with pytest.raises(TextFeaturesError, match="'zz'.*dvc repro text_features"):
        t.vectors(["a", "zz"])
    with pytest.raises(TextFeaturesError, match="not found"):
        read_text_features(tmp_path / "nope.parquet")


def test_split_transcripts_reads_missing_and_empty_as_none(tmp_path):
    pd.DataFrame({"utt_id": ["u1", "u2", "u3"], "text": ["Hello there", None, "  "]}).to_parquet(
        tmp_path / "shard-00000.parquet")
    pd.DataFrame({"utt_id": ["u4"]}).to_parquet(tmp_path / "shard-00001.parquet")  # a shard without transcripts
    assert split_transcripts(tmp_path) == (["u1", "u2", "u3", "u4"], ["Hello there", None, None, None])
