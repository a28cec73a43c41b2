import pytest

from sa2sr_core.corpora.librispeech import CorpusLayoutError, read_librispeech
from tests.conftest import write_audio


def _chapter(root, subset, spk, chap, lines, audio_utts):
    d = root / "LibriSpeech" / subset / spk / chap
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines))  # no final newline, as released
    for u in audio_utts:
        write_audio(d / f"{u}.flac")
    return d


@pytest.fixture
def libri(tmp_path):
    _chapter(tmp_path, "train-clean-100", "19", "198", [
        "19-198-0000 HELLO WORLD", "19-198-0001 IT'S A TEST", "19-198-0002 ROOM 101 IS FREE",
        "19-198-0003 CAFÉ AU LAIT", "19-198-0005 NO AUDIO FOR ME"],
        ["19-198-0000", "19-198-0001", "19-198-0002", "19-198-0003", "19-198-0004"])
    d = _chapter(tmp_path, "dev-clean", "84", "121", ["84-121-0000 GOOD MORNING", "84-121-0001 BROKEN FILE"],
                 ["84-121-0000"])
    (d / "84-121-0001.flac").write_bytes(b"")  # zero-byte audio
    (d / "._84-121-0000.flac").write_bytes(b"\0\5\26\7")  # macOS resource fork
    # the same utterance id shipped twice (e.g. a subset copied into another one)
    _chapter(tmp_path, "test-clean", "19", "198", ["19-198-0000 HELLO AGAIN"], ["19-198-0000"])
    return tmp_path


def test_reads_rows_and_rejects(libri):
    read = read_librispeech(libri)
    df = read.manifest()
    assert sorted(df["utt_id"]) == ["19-198-0000", "19-198-0001", "19-198-0003", "84-121-0000"]
    row = df.set_index("utt_id").loc["19-198-0003"]
    assert row["text"] == "CAFE AU LAIT" and row["split"] == "train" and row["subset"] == "train-clean-100"
    assert abs(row["duration_s"] - 1.0) < 1e-6 and row["speaker"] == "ls-19"
    reasons = {r.file.rsplit("/", 1)[-1]: r.reason for r in read.rejects}
    assert "outside A-Z" in reasons["19-198-0002.flac"] and "'01'" in reasons["19-198-0002.flac"]
    assert "no transcript line" in reasons["19-198-0004.flac"]
    assert "no audio file" in reasons["19-198-0005.flac"]
    assert "empty" in reasons["84-121-0001.flac"]
    assert "resource-fork" in reasons["._84-121-0000.flac"]
    dup = [r for r in read.rejects if "duplicate utt_id" in r.reason]
    assert len(dup) == 1 and "test-clean" in dup[0].file and "train-clean-100" in dup[0].reason


def test_root_may_be_librispeech_dir_or_parent(libri):
    assert len(read_librispeech(libri / "LibriSpeech").rows) == len(read_librispeech(libri).rows)


def test_wrong_root_says_what_was_expected(tmp_path):
    (tmp_path / "somewhere").mkdir()
    with pytest.raises(CorpusLayoutError, match="expected one of the subset folders") as e:
        read_librispeech(tmp_path / "somewhere")
    assert "train-clean-100" in str(e.value)
    with pytest.raises(CorpusLayoutError, match="does not exist"):
        read_librispeech(tmp_path / "missing")


def test_real_librispeech_sample(shared_data):
    read = read_librispeech(shared_data / "librispeech-test-clean-sample")
    df = read.manifest()
    assert len(df) == 4 and not read.rejects
    assert set(df["split"]) == {"test"} and df["text"].str.match(r"^[A-Z' ]+$").all()
