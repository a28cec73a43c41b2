import pandas as pd
import pytest

from sa2sr_core.corpora.iemocap import iemocap_speaker, read_iemocap
from sa2sr_core.corpora.librispeech import CorpusLayoutError
from tests.conftest import write_audio


def _session(root, s, dialog, utts, emo_lines, trans_lines):
    sd = root / "IEMOCAP_full_release" / f"Session{s}"
    for u in utts:
        write_audio(sd / "sentences" / "wav" / dialog / f"{u}.wav")
    (sd / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
    (sd / "dialog" / "transcriptions").mkdir(parents=True, exist_ok=True)
    (sd / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text(
        "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n" + "\n".join(emo_lines) + "\n")
    (sd / "dialog" / "transcriptions" / f"{dialog}.txt").write_text("\n".join(trans_lines) + "\n")
    return sd


@pytest.fixture
def iemo(tmp_path):
    d = "Ses01F_impro01"
    sd = _session(tmp_path, 1, d, [f"{d}_F000", f"{d}_M001", f"{d}_F002", f"{d}_M003"], [
        f"[6.2901 - 8.2357]\t{d}_F000\tneu\t[2.5000, 2.5000, 2.5000]",
        "C-E1:\tNeutral;\t()",
        f"[10.0100 - 11.3925]\t{d}_M001\txxx\t[2.0000, 3.5000, 3.5000]",
        f"[12.0 - 13.0]\t{d}_F002\tfru\t[2.0000, 3.0000, 3.0000]",
        f"[14.0 - 15.0]\t{d}_M003\tang\t[1.5, 4.0]",  # malformed: two values
        f"[16.0 - 17.0]\t{d}_F004\tsad\t[1.5000, 1.5000, 2.0000]",  # label without audio
    ], [
        f"{d}_F000 [006.2901-008.2357]: Excuse me.",
        f"{d}_M001 [010.0100-011.3925]: Do you have your forms?",
        "M: [BREATHING]",
        "Ses01F_script01_1_MXX [123.0-124.0]: scripted line",
    ])
    (sd / "sentences" / "wav" / d / f"._{d}_F000.wav").write_bytes(b"\0\5\26\7")
    d5 = "Ses05M_script02_2"
    _session(tmp_path, 5, d5, [f"{d5}_M010"], [f"[1.0 - 2.0]\t{d5}_M010\thap\t[4.0000, 3.0000, 3.0000]"],
             [f"{d5}_M010 [001.0-002.0]: Great, thanks!"])
    return tmp_path


def test_reads_labels_and_quirks(iemo):
    read = read_iemocap(iemo)
    df = read.manifest().set_index("utt_id")
    assert sorted(df.index) == ["Ses01F_impro01_F000", "Ses01F_impro01_F002", "Ses01F_impro01_M001",
                                "Ses05M_script02_2_M010"]
    f0 = df.loc["Ses01F_impro01_F000"]
    assert (f0["emotion"], f0["valence"], f0["activation"], f0["dominance"]) == ("neu", 2.5, 2.5, 2.5)
    assert f0["text"] == "Excuse me." and f0["speaker"] == "Ses01F" and f0["split"] == "train"
    assert df.loc["Ses01F_impro01_M001", "emotion"] == "xxx"  # kept: the study decides what to do with it
    assert pd.isna(df.loc["Ses01F_impro01_F002", "text"])  # no transcript line: kept, text null
    assert df.loc["Ses05M_script02_2_M010", "split"] == "test"
    reasons = " | ".join(f"{r.file} -> {r.reason}" for r in read.rejects)
    assert "malformed EmoEvaluation line" in reasons and "Ses01F_impro01.txt:7" in reasons
    assert "audio file is missing" in reasons and "F004" in reasons
    assert reasons.count("not an utterance") == 2
    assert "resource-fork" in reasons
    assert "no EmoEvaluation label" in reasons and "M003" in reasons


def test_speaker_from_utterance_id():
    assert iemocap_speaker("Ses01F_script01_1_M012") == "Ses01M"
    assert iemocap_speaker("Ses03M_impro05b_F001") == "Ses03F"


def test_wrong_root(tmp_path):
    with pytest.raises(CorpusLayoutError, match="Session1..Session5"):
        read_iemocap(tmp_path)
