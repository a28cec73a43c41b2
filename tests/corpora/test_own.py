"""A user's own corpus from one manifest file: the real RAVDESS recordings as a user would list them (split by
actor), CSV / TSV / JSON lines alike, every skippable bad row a reject naming its line, every unusable manifest
one named error with nothing written."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sa2sr_core.cli import app
from sa2sr_core.corpora.manifest import ManifestError, write_manifest
from sa2sr_core.corpora.own import read_own_manifest
from tests.conftest import write_audio

RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                    "07": "disgust", "08": "surprised"}


def ravdess_manifest(shared, out):
    """RAVDESS as a user's category-only corpus: actors 1-8 train, 9-10 development, 11-12 test."""
    rows = []
    for p in sorted((shared / "ravdess-actors-01-12").glob("*.flac")):
        f = p.stem.split("-")
        actor = int(f[6])
        split = "train" if actor <= 8 else "development" if actor <= 10 else "test"
        rows.append({"path": str(p), "speaker": f"actor{actor:02d}", "split": split,
                     "category": RAVDESS_EMOTIONS[f[2]]})
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def test_ravdess_as_a_users_corpus(shared_data, tmp_path):
    read = read_own_manifest(ravdess_manifest(shared_data, tmp_path / "ravdess.csv"))
    df = read.manifest()
    assert not read.rejects and len(df) == 720
    assert df.groupby("split").size().to_dict() == {"test": 120, "train": 480, "validation": 120}
    assert df.groupby("split")["speaker"].nunique().to_dict() == {"test": 2, "train": 8, "validation": 2}
    assert sorted(df["emotion"].unique()) == sorted(RAVDESS_EMOTIONS.values())
    assert df["activation"].isna().all() and (df["sample_rate"] == 16000).all()
    assert df["duration_s"].between(2.5, 6.0).all()


def _audio(tmp_path, n=8):
    for i in range(n):
        write_audio(tmp_path / "audio" / f"u{i}.wav", sr=8000)


HEADER = ["path", "speaker", "split", "category", "activation", "valence", "dominance", "transcript"]
GOOD = [["audio/u0.wav", "s1", "train", "angry", "", "", "", "hello there"],
        ["audio/u1.wav", "s1", "train", "", "2", "3", "4", ""],
        ["audio/u2.wav", "s2", "development", "sad", "5", "4", "3", ""],
        ["audio/u3.wav", "s3", "Test-Actors", "happy", "", "", "", ""]]


def _csv(path, rows, header=HEADER, sep=","):
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n")
    return path


def test_good_rows_read_and_bad_rows_rejected_naming_their_line(tmp_path):
    _audio(tmp_path)
    (tmp_path / "audio" / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    bad = [["audio/missing.wav", "s1", "train", "angry", "", "", "", ""],          # line 6: no such file
           ["audio/broken.wav", "s1", "train", "angry", "", "", "", ""],           # 7: not audio
           ["audio/u4.wav", "s1", "train", "", "", "", "", ""],                    # 8: no label
           ["audio/u0.wav", "s1", "train", "angry", "", "", "", ""],               # 9: duplicated path
           ["audio/u5.wav", "s1", "train", "", "2", "", "4", ""],                  # 10: A/V/D partly given
           ["audio/u6.wav", "s1", "train", "", "9", "3", "4", ""],                 # 11: off the 1-7 scale
           ["audio/u7.wav", "s1", "", "angry", "", "", "", ""],                    # 12: no split
           [str(tmp_path / "audio" / "u7.wav"), "", "train", "angry", "", "", "", ""]]  # 13: no speaker
    read = read_own_manifest(_csv(tmp_path / "m.csv", GOOD + bad), scale=(1.0, 7.0))
    df = read.manifest().set_index("utt_id")
    assert list(df.index) == ["audio_u0", "audio_u1", "audio_u2", "audio_u3"]
    assert df.loc["audio_u3", "split"] == "test-actors" and df.loc["audio_u2", "split"] == "validation"
    assert df.loc["audio_u0", "text"] == "hello there" and df.loc["audio_u0", "emotion"] == "angry"
    assert df.loc["audio_u1", ["activation", "valence", "dominance"]].tolist() == [2.0, 3.0, 4.0]
    assert pd.isna(df.loc["audio_u1", "emotion"]) and df.loc["audio_u0", "path"] == str(tmp_path / "audio" / "u0.wav")
    lines = {r.file.rsplit(":", 1)[1]: r.reason for r in read.rejects}
    assert sorted(lines, key=int) == [str(i) for i in range(6, 14)]
    assert "no such file" in lines["6"] or "does not exist" in lines["6"]
    assert "no label" in lines["8"] and "first on line 2" in lines["9"] and "must all be numbers" in lines["10"]
    assert "outside the declared scale 1-7" in lines["11"] and "no split" in lines["12"] and "no speaker" in lines["13"]
    assert all(r.file.startswith(str(tmp_path / "m.csv")) for r in read.rejects)


def test_tsv_and_json_lines_read_as_csv(tmp_path):
    _audio(tmp_path)
    want = read_own_manifest(_csv(tmp_path / "m.csv", GOOD)).manifest()
    tsv = read_own_manifest(_csv(tmp_path / "m.tsv", GOOD, sep="\t")).manifest()
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(dict(zip(HEADER, r))) for r in GOOD) + "\n")
    jsonl = read_own_manifest(tmp_path / "m.jsonl").manifest()
    pd.testing.assert_frame_equal(tsv, want)
    pd.testing.assert_frame_equal(jsonl, want)


@pytest.mark.parametrize("case, message", [
    ("dev", "split 'dev' (1 rows): did you mean 'development'?"),
    ("two_splits", "1 speaker(s) in more than one split (splits must be speaker-disjoint): s1 in test-actors, train"),
    ("no_label_column", "no label column: need `category` and/or all of"),
    ("no_speaker_column", "missing column(s) ['speaker']"),
    ("no_test", "no test split"),
    ("no_development", "no usable 'development' rows"),
    ("nothing_usable", "no usable row (4 rejected; most often: 4 x file does not exist"),
    ("xlsx", "a manifest is .csv, .tsv or .jsonl, not .xlsx"),
])
def test_an_unusable_manifest_is_one_named_error_and_nothing_is_written(tmp_path, case, message):
    _audio(tmp_path)
    rows = [list(r) for r in GOOD]
    header, name = HEADER, "m.csv"
    if case == "dev":
        rows[2][2] = "dev"
    elif case == "two_splits":
        rows[3][1] = "s1"
    elif case == "no_label_column":
        header, rows = HEADER[:3], [r[:3] for r in rows]
    elif case == "no_speaker_column":
        header, rows = [h for h in HEADER if h != "speaker"], [[v for j, v in enumerate(r) if j != 1] for r in rows]
    elif case == "no_test":
        rows = rows[:3]
    elif case == "no_development":
        rows[2][2] = "test2"
    elif case == "nothing_usable":
        rows = [["gone/" + r[0], *r[1:]] for r in rows]
    elif case == "xlsx":
        name = "m.xlsx"
    path = _csv(tmp_path / name, rows, header)
    with pytest.raises(ManifestError) as e:
        write_manifest(read_own_manifest(path), tmp_path / "out.parquet", tmp_path / "out_rejects.csv")
    assert str(path) in str(e.value) and message in str(e.value), str(e.value)
    assert not (tmp_path / "out.parquet").exists() and not (tmp_path / "out_rejects.csv").exists()
    res = CliRunner().invoke(app, ["manifest", "own", str(path), "--out", str(tmp_path / "cli.parquet")])
    assert res.exit_code == 2 and res.output.count("error:") == 1 and message in res.output
    assert not list(tmp_path.glob("cli*"))


def test_the_manifest_command_writes_the_manifest_and_its_rejects(tmp_path):
    _audio(tmp_path)
    path = _csv(tmp_path / "m.csv", GOOD + [["audio/none.wav", "s1", "train", "angry", "", "", "", ""]])
    out = tmp_path / "own.parquet"
    res = CliRunner().invoke(app, ["manifest", "own", str(path), "--out", str(out), "--scale", "1", "7"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{"):res.stdout.rindex("}") + 1])
    assert report["labels"] == {"categories": {"angry": 1, "happy": 1, "sad": 1}, "dimensions": 2}
    assert report["rejects"] == 1 and set(report["splits"]) == {"train", "validation", "test-actors"}
    assert len(pd.read_parquet(out)) == 4 and len(pd.read_csv(tmp_path / "own_rejects.csv")) == 1


def test_stage_own_corpus_rewrites_only_when_the_manifest_or_its_audio_change(tmp_path):
    from sa2sr_core.corpora.finetuning import finetune_corpus
    from sa2sr_core.corpora.finetuning import OwnPaths, prepare_own
    from sa2sr_core.errors import ParamsError
    from sa2sr_core.params import load_params, manifest_path, with_overrides

    _audio(tmp_path)
    path = _csv(tmp_path / "m.csv", GOOD)
    params = with_overrides(load_params(Path(__file__).resolve().parents[2] / "params.yaml"),
                            {"finetune.corpus": str(path), "data.manifests_dir": str(tmp_path / "manifests"),
                             "data.summaries_dir": str(tmp_path / "summaries")})
    summary_file = tmp_path / "summaries" / "prepare_own.json"

    def run():
        s = prepare_own(finetune_corpus(params), OwnPaths.from_params(params))
        summary_file.parent.mkdir(exist_ok=True)
        summary_file.write_text(json.dumps(s))
        return s, manifest_path(params, "own").stat().st_mtime_ns

    first, t1 = run()
    assert first["splits"]["train"]["utterances"] == 2 and first["labels"]["dimensions"] == 2
    again, t2 = run()
    assert again == first and t2 == t1  # unchanged: not rewritten, so DVC re-runs nothing downstream
    write_audio(tmp_path / "audio" / "u2.wav", sr=16000)  # a listed recording changed
    changed, t3 = run()
    assert changed["fingerprint"] != first["fingerprint"] and t3 != t1
    params["finetune"]["corpus"] = "msp_podcast"
    named, _ = run()
    assert len(pd.read_parquet(manifest_path(params, "own"))) == 0 and "no manifest of your own" in named["note"]
    params["finetune"]["corpus"] = str(tmp_path / "m.xlsx")
    with pytest.raises(ParamsError, match="neither a corpus"):
        finetune_corpus(params)
    params["finetune"]["corpus"] = str(tmp_path / "gone.csv")
    with pytest.raises(ManifestError, match="no such manifest file"):
        prepare_own(finetune_corpus(params), OwnPaths.from_params(params))


def test_a_split_dropped_from_the_manifest_leaves_no_shards_behind(tmp_path):
    from sa2sr_core.config.features import feature_config
    from sa2sr_core.corpora.finetuning import finetune_corpus
    from sa2sr_core.corpora.finetuning import OwnPaths, prepare_own
    from sa2sr_core.features.extract import extract_corpus
    from sa2sr_core.params import load_params, manifest_path

    _audio(tmp_path)
    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    params["data"].update(manifests_dir=str(tmp_path / "manifests"), summaries_dir=str(tmp_path / "summaries"),
                          features_dir=str(tmp_path / "features"))
    params["features"]["workers"] = 1
    params["finetune"]["corpus"] = str(_csv(tmp_path / "m.csv", GOOD))
    extract = lambda: extract_corpus(manifest_path(params, "own"), tmp_path / "features" / "own",  # noqa: E731
                                     feature_config(params))
    prepare_own(finetune_corpus(params), OwnPaths.from_params(params))
    assert set(extract()) == {"train", "validation", "test-actors"}
    rows = [list(r) for r in GOOD]
    rows[3][2] = "test2"  # the test set renamed: its old shards must go
    params["finetune"]["corpus"] = str(_csv(tmp_path / "m.csv", rows))
    prepare_own(finetune_corpus(params), OwnPaths.from_params(params))
    extract()
    assert sorted(p.name for p in (tmp_path / "features" / "own").iterdir() if p.is_dir()) == \
        ["test2", "train", "validation"]
