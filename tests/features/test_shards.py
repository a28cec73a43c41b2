import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sa2sr_core.audio import load_audio
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.features import shards
from sa2sr_core.features.fbank import extract_lfbe
from sa2sr_core.features.shards import extract_split, frames_from_batch, shard_files


def iter_shard_batches(split_dir):
    for path in shard_files(split_dir):
        yield from pq.ParquetFile(path).iter_batches(batch_size=256)
from tests.conftest import tone, write_audio


def _manifest(tmp_path, n=6, bad=()):
    rows = []
    for i in range(n):
        p = tmp_path / "audio" / f"u{i}.wav"
        if i in bad:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"not audio")
        else:
            write_audio(p, tone(0.5 + 0.1 * i, seed=i))
        rows.append({"utt_id": f"u{i}", "path": str(p), "speaker": "s1", "text": f"T {i}", "duration_s": 0.5 + 0.1 * i,
                     "activation": 3.0 if i % 2 else np.nan, "valence": 4.0, "dominance": 5.0})
    return pd.DataFrame(rows)


def test_schema_values_and_speed_copies(tmp_path):
    cfg = FeatureConfig()
    m = _manifest(tmp_path, 3)
    res = extract_split(m, tmp_path / "out", cfg, speeds=[0.9, 1.1], max_seconds=1.0)
    assert res["utterances"] == 9 and res["shards"] > 1 and not res["rejects"]
    files = sorted((tmp_path / "out").iterdir())
    assert all(f.name.startswith("shard-") for f in files)
    schema = pq.read_schema(files[0])
    assert schema.field("utt_id").type == pa.string() and schema.field("num_frames").type == pa.int32()
    assert schema.field("lfbe").type == pa.list_(pa.list_(pa.float32(), 40))
    table = pq.read_table(tmp_path / "out")
    ids = table["utt_id"].to_pylist()
    assert {"u0", "sp0.9-u0", "sp1.1-u0"} <= set(ids)
    assert table.filter(pa.compute.equal(table["utt_id"], "sp0.9-u0"))["text"].to_pylist() == ["T 0"]
    feats = {}
    for batch in iter_shard_batches(tmp_path / "out"):
        for uid, f, n in zip(batch["utt_id"].to_pylist(), frames_from_batch(batch), batch["num_frames"].to_pylist()):
            assert f.shape == (n, 40)
            feats[uid] = f
    np.testing.assert_allclose(feats["u1"], extract_lfbe(load_audio(m.path[1]), cfg), atol=1e-6)
    assert feats["sp0.9-u1"].shape[0] > feats["u1"].shape[0] > feats["sp1.1-u1"].shape[0]
    assert np.isnan(table.filter(pa.compute.equal(table["utt_id"], "u0"))["activation"].to_pylist()[0] or np.nan)


def test_bad_file_is_a_reject_and_nothing_else_is_lost(tmp_path):
    res = extract_split(_manifest(tmp_path, 4, bad=(2,)), tmp_path / "out", FeatureConfig(), speeds=[])
    assert res["utterances"] == 3
    assert [r["utt_id"] for r in res["rejects"]] == ["u2"] and "u2.wav" in res["rejects"][0]["file"]


def test_resume_skips_finished_shards_and_removes_stale(tmp_path, monkeypatch):
    cfg, out = FeatureConfig(), tmp_path / "out"
    m = _manifest(tmp_path, 6)
    calls = []
    real = shards.write_shard

    def failing(plan, cfg):
        calls.append(plan.path.name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed while writing its third shard
        return real(plan, cfg)

    monkeypatch.setattr(shards, "write_shard", failing)
    with pytest.raises(KeyboardInterrupt):
        extract_split(m, out, cfg, speeds=[], max_seconds=1.0)
    done = sorted(p.name for p in out.iterdir())
    assert done == calls[:2]  # finished shards are whole; the interrupted one left nothing, not even a temp file
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "shard-00099.parquet").write_bytes(b"stale")
    monkeypatch.setattr(shards, "write_shard", real)
    res = extract_split(m, out, cfg, speeds=[], max_seconds=1.0)
    assert res["reused_shards"] == 2 and res["utterances"] == 6
    assert all(out.joinpath(n).stat().st_mtime_ns == t for n, t in mtimes.items())
    assert not (out / "shard-00099.parquet").exists()
    # a config change invalidates every shard
    res = extract_split(m, out, FeatureConfig(normalize="none"), speeds=[], max_seconds=1.0)
    assert res["reused_shards"] == 0


def test_parallel_workers_give_same_shards(tmp_path):
    m = _manifest(tmp_path, 4)
    a = extract_split(m, tmp_path / "a", FeatureConfig(), speeds=[], max_seconds=1.0, workers=1)
    b = extract_split(m, tmp_path / "b", FeatureConfig(), speeds=[], max_seconds=1.0, workers=2)
    assert a["frames"] == b["frames"]
    ta, tb = pq.read_table(tmp_path / "a"), pq.read_table(tmp_path / "b")
    assert ta.drop(["lfbe"]).equals(tb.drop(["lfbe"]))
    np.testing.assert_array_equal(ta["lfbe"].combine_chunks().flatten().flatten().to_numpy(),
                                  tb["lfbe"].combine_chunks().flatten().flatten().to_numpy())


def test_float16_storage_halves_the_features_and_reads_back_as_float32(tmp_path):
    m = _manifest(tmp_path, 4)
    sizes, feats = {}, {}
    for dtype in ("float32", "float16"):
        cfg = FeatureConfig(dtype=dtype)
        extract_split(m, tmp_path / dtype, cfg, speeds=[], max_seconds=100.0)
        f = next((tmp_path / dtype).glob("shard-*.parquet"))
        assert pq.read_schema(f).field("lfbe").type.value_type.value_type == (pa.float16() if dtype == "float16"
                                                                                else pa.float32())
        sizes[dtype] = pq.ParquetFile(f).metadata.row_group(0).column(2).total_uncompressed_size
        feats[dtype] = [x for b in iter_shard_batches(tmp_path / dtype) for x in frames_from_batch(b)]
    assert sizes["float16"] < 0.6 * sizes["float32"]
    for a, b in zip(feats["float32"], feats["float16"]):
        assert b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(b, a, atol=4e-3, rtol=1e-3)  # normalised LFBE: |x| < ~5, half precision
    with pytest.raises(ValueError, match="dtype"):
        FeatureConfig(dtype="int8")
