import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sa2sr_core.config.demo import DemoConfig
from sa2sr_core.corpora.demo import build_demo
from sa2sr_core.corpora.iemocap import read_iemocap
from sa2sr_core.corpora.librispeech import read_librispeech
from sa2sr_core.corpora.manifest import speaker_overlap
from sa2sr_core.corpora.msp_podcast import read_msp_podcast
from sa2sr_core.corpora.sentences import make_sentence, vocabulary
from sa2sr_core.names import SENTIMENT_CLASSES

TINY = DemoConfig(librispeech={"train-clean-100": 8, "dev-clean": 3, "test-clean": 3},
                  librispeech_speakers={"train-clean-100": 2, "dev-clean": 1, "test-clean": 1},
                  iemocap_per_speaker=3, msp_podcast={"Train": 8, "Development": 3, "Test1": 3, "Test2": 2},
                  msp_speakers={"Train": 2, "Development": 1, "Test1": 1, "Test2": 1})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    counts = build_demo(out, TINY, ["librispeech", "iemocap", "msp_podcast"])
    return out, counts


def _digest(root, audio=True):
    h = hashlib.sha1()
    for p in sorted(root.rglob("*")):
        if p.is_file() and (audio or p.suffix not in (".wav", ".flac")):
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_demo_is_read_by_the_official_readers(demo):
    out, counts = demo
    ls = read_librispeech(out)
    ie = read_iemocap(out / "IEMOCAP_full_release")
    msp = read_msp_podcast(out / "MSP-Podcast")
    for read, n in ((ls, counts["librispeech"]), (ie, counts["iemocap"]), (msp, counts["msp_podcast"])):
        df = read.manifest()
        assert len(df) == n and not read.rejects
        assert not speaker_overlap(df)
    df = msp.manifest()
    assert set(df["split"]) == {"train", "validation", "test1", "test2"}
    assert df[["activation", "valence", "dominance"]].stack().between(1, 7).all()
    iem = ie.manifest()
    assert iem[["activation", "valence", "dominance"]].stack().between(1, 5).all()
    assert iem["text"].notna().all() and iem["emotion"].notna().all()


@pytest.mark.slow
def test_demo_is_byte_identical_in_fresh_processes(tmp_path):
    # espeak-ng keeps internal state from one utterance to the next, so the guarantee is per process:
    # the same params in a fresh process (as `dvc repro` runs) give the same bytes.
    code = ("import sys; from tests.corpora.test_demo import TINY; from sa2sr_core.corpora.demo import build_demo; "
            "build_demo(sys.argv[1], TINY, ['iemocap', 'msp_podcast'])")
    for d in ("a", "b"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / d)], check=True, capture_output=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_texts_labels_voices_do_not_depend_on_which_corpora_are_built(demo, tmp_path):
    out, _ = demo
    build_demo(tmp_path, TINY, ["msp_podcast"])
    assert not (tmp_path / "LibriSpeech").exists()
    assert _digest(tmp_path / "MSP-Podcast", audio=False) == _digest(out / "MSP-Podcast", audio=False)


def test_sentences_carry_the_requested_sentiment():
    rng, vader = random.Random(0), SentimentIntensityAnalyzer()
    agree = 0
    for i in range(300):
        s = SENTIMENT_CLASSES[i % 3]
        score = vader.polarity_scores(make_sentence(rng, s, rng.randint(1, 3)))["compound"]
        found = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
        agree += found == s
    assert agree / 300 > 0.75
    assert len(vocabulary()) > 300
    assert len({make_sentence(rng, "neutral") for _ in range(200)}) > 190  # sentences do not repeat
