import pandas as pd
import pytest

from sa2sr_core.corpora.librispeech import CorpusLayoutError
from sa2sr_core.corpora.msp_podcast import read_msp_podcast
from tests.conftest import write_audio

HEADER = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"


def _corpus(root, rows, label_name="labels_consensus.csv"):
    for sub in ("Labels", "Transcripts", "Audios"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "Labels" / label_name).write_text(HEADER + "\n".join(rows) + "\n")
    return root


def test_reads_rows_and_rejects_malformed(tmp_path):
    for name in ("MSP-PODCAST_0001_0001", "MSP-PODCAST_0002_0001", "MSP-PODCAST_0003_0001", "MSP-PODCAST_0004_0001"):
        write_audio(tmp_path / "Audios" / f"{name}.wav", sr=8000)
    _corpus(tmp_path, [
        "MSP-PODCAST_0001_0001.wav,H,4.2,5.0,3.8,127,Female,Train",
        "MSP-PODCAST_0002_0001.wav,A,5.5,2.0,6.0,Unknown,Male,Test1",
        "MSP-PODCAST_0003_0001.wav,N,,4.0,4.0,12,Male,Development",      # missing activation
        "MSP-PODCAST_0004_0001.wav,N,9.0,4.0,4.0,13,Male,Test2",         # outside the 1-7 scale
        "MSP-PODCAST_0005_0001.wav,N,4.0,4.0,4.0,14,Male,Test1",         # audio missing
        "MSP-PODCAST_0006_0001.wav,N,4.0,4.0,4.0,15,Male,Validation",    # unknown split name
        "garbage",
    ])
    (tmp_path / "Transcripts" / "MSP-PODCAST_0001_0001.txt").write_text("I love it.\n")
    read = read_msp_podcast(tmp_path)
    df = read.manifest().set_index("utt_id")
    assert list(df.index) == ["MSP-PODCAST_0001_0001", "MSP-PODCAST_0002_0001"]
    r = df.loc["MSP-PODCAST_0001_0001"]
    assert (r["activation"], r["valence"], r["dominance"]) == (4.2, 5.0, 3.8)
    assert r["split"] == "train" and r["speaker"] == "msp-127" and r["text"] == "I love it."
    assert r["sample_rate"] == 8000
    assert df.loc["MSP-PODCAST_0002_0001", "speaker"] == "unknown" and pd.isna(df.loc["MSP-PODCAST_0002_0001", "text"])
    reasons = [x.reason for x in read.rejects]
    assert len(reasons) == 5
    assert any("non-numeric" in x for x in reasons) and any("outside the (1.0, 7.0) scale" in x for x in reasons)
    assert any("does not exist" in x for x in reasons) and any("unknown Split_Set" in x for x in reasons)
    assert any(x.file.endswith(":8") for x in read.rejects)


def test_concensus_spelling(tmp_path):
    write_audio(tmp_path / "Audios" / "a.wav")
    _corpus(tmp_path, ["a.wav,N,4,4,4,1,Male,Train"], "labels_concensus.csv")
    assert len(read_msp_podcast(tmp_path).rows) == 1


def test_missing_columns_and_wrong_root(tmp_path):
    with pytest.raises(CorpusLayoutError, match="labels_consensus.csv"):
        read_msp_podcast(tmp_path)
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Audios").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text("FileName,EmoAct\nx.wav,3\n")
    with pytest.raises(CorpusLayoutError, match="missing columns"):
        read_msp_podcast(tmp_path)
