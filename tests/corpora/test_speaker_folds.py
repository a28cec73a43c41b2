import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sa2sr_core.corpora.manifest import ManifestError
from sa2sr_core.corpora.own import read_own_manifest
from sa2sr_core.corpora.speaker_folds import (absolute_paths, fold_manifest, msp_podcast_manifest, read_table,
                                              speaker_groups)
from tests.conftest import write_audio

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["s3", "s1", "s4", "s2", "s5"]  # in order of first appearance, not sorted


def _manifest(tmp_path) -> Path:
    rows = []
    for i, (spk, split) in enumerate([(s, "train") for s in TRAIN] + [("d1", "development"), ("d2", "development"),
                                                                      ("t1", "test"), ("t2", "test-b")]):
        for j in range(2):
            write_audio(tmp_path / "audio" / f"{spk}_{j}.wav", sr=8000)
            rows.append({"path": f"audio/{spk}_{j}.wav", "speaker": spk, "split": split,
                         "activation": 3 + j, "valence": 4, "dominance": 5 - j, "transcript": f"words {i}"})
    pd.DataFrame(rows).to_csv(tmp_path / "mine.csv", index=False)
    return tmp_path / "mine.csv"


def test_development_first_then_the_train_speakers_in_order(tmp_path):
    m = read_table(_manifest(tmp_path))
    assert speaker_groups(m, 3) == [["d1", "d2"], ["s3", "s1"], ["s4", "s2", "s5"]]
    groups = speaker_groups(m, 6)
    assert groups == [["d1", "d2"], ["s3"], ["s1"], ["s4"], ["s2"], ["s5"]]


def test_each_speaker_develops_once_and_the_tests_stay(tmp_path):
    manifest = _manifest(tmp_path)
    m = read_table(manifest)
    groups = speaker_groups(m, 3)
    seen = []
    for k, group in enumerate(groups, start=1):
        f = fold_manifest(m, group)
        assert sorted(f.loc[f["split"] == "development", "speaker"].unique()) == sorted(group)
        assert set(f.loc[f["split"] == "train", "speaker"]) == set(TRAIN + ["d1", "d2"]) - set(group)
        pd.testing.assert_frame_equal(f[~f["split"].isin(["train", "development"])],
                                      m[~m["split"].isin(["train", "development"])])
        seen += group
        out = tmp_path / f"fold-{k}.csv"  # beside the audio: the project's own reader takes it as it is
        f.to_csv(out, index=False)
        read = read_own_manifest(out, scale=(1.0, 7.0))
        assert not read.rejects
        df = read.manifest()
        assert set(df.loc[df["split"] == "validation", "speaker"]) == set(group)
        assert set(df["split"]) == {"train", "validation", "test", "test-b"}
    assert sorted(seen) == sorted(TRAIN + ["d1", "d2"])
    assert (fold_manifest(m, groups[0])["split"] == m["split"]).all()  # fold 1 is the manifest itself


def test_what_cannot_be_folded(tmp_path):
    m = read_table(_manifest(tmp_path))
    with pytest.raises(ManifestError, match="between 2 and 1 \\+ its 5 train speakers"):
        speaker_groups(m, 7, "mine.csv")
    with pytest.raises(ManifestError, match="mine.csv: speaker folds need train and development rows"):
        speaker_groups(m[m["split"] != "development"], 3, "mine.csv")
    with pytest.raises(ManifestError, match="columns speaker and split"):
        speaker_groups(m.drop(columns="speaker"), 3)
    with pytest.raises(ManifestError, match="notes.txt: a manifest is .csv, .tsv or .jsonl"):
        read_table(tmp_path / "notes.txt")
    with pytest.raises(ManifestError, match="mine.csv: a manifest needs the column path"):
        absolute_paths(m.drop(columns="path"), tmp_path / "mine.csv")
    with pytest.raises(ManifestError, match="gone.csv: no such file"):
        read_table(tmp_path / "gone.csv")
    with pytest.raises(ManifestError, match="gone.jsonl: no such file"):
        read_table(tmp_path / "gone.jsonl")
    (tmp_path / "torn.jsonl").write_text('{"path": "a.wav", "speaker": "s1", "split": "train"}\n{"path": \n')
    with pytest.raises(ManifestError, match=r"torn.jsonl:2: cannot be parsed \(1 such line\(s\)\)"):
        read_table(tmp_path / "torn.jsonl")


def test_msp_podcast_as_a_manifest_in_the_labels_order(tmp_path):
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Transcripts").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(
        "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
        "MSP-PODCAST_0002_0001.wav,H,4.2,5.0,3.8,7,Female,Development\n"
        "MSP-PODCAST_0001_0001.wav,A,5.5,2.0,6.0,3,Male,Train\n"
        "MSP-PODCAST_0003_0001.wav,N,4.0,4.0,4.0,9,Male,Test1\n")
    (tmp_path / "Transcripts" / "MSP-PODCAST_0001_0001.txt").write_text("I love it.\n")
    m = msp_podcast_manifest(tmp_path)
    assert m["utt_id"].tolist() == ["MSP-PODCAST_0002_0001", "MSP-PODCAST_0001_0001", "MSP-PODCAST_0003_0001"]
    assert m["split"].tolist() == ["development", "train", "test1"]
    assert m["speaker"].tolist() == ["msp-7", "msp-3", "msp-9"]
    assert m["transcript"].tolist() == ["", "I love it.", ""]
    assert m[["activation", "valence", "dominance"]].iloc[0].tolist() == [4.2, 5.0, 3.8]
    assert all(Path(p).is_absolute() for p in m["path"])
    with pytest.raises(ManifestError, match="is .* an MSP-Podcast root"):
        msp_podcast_manifest(tmp_path / "Labels")


def test_the_script_writes_the_folds_or_one_error_line(tmp_path):
    manifest = _manifest(tmp_path)
    run = [sys.executable, str(ROOT / "scripts" / "speaker_folds.py")]
    res = subprocess.run(run + [str(manifest), str(tmp_path / "folds"), "--folds", "3"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "folds").iterdir()) == ["fold-1.csv", "fold-2.csv", "fold-3.csv"]
    f2 = pd.read_csv(tmp_path / "folds" / "fold-2.csv")
    assert all(Path(p).is_file() for p in f2["path"])  # relative paths made absolute: the folds live elsewhere
    assert "development s3, s1" in res.stdout
    res = subprocess.run(run + [str(manifest), str(tmp_path / "more"), "--folds", "9"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.strip().splitlines() == [
        f"error: {manifest}: 9 folds: between 2 and 1 + its 5 train speakers"]
    assert not (tmp_path / "more").exists()
