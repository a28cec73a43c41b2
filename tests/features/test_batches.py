import numpy as np
import pyarrow.parquet as pq
import pytest

from sa2sr_core.features.batches import Example, ShardDataset, plan_batches
from tests.helpers import speech_shards


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    d, _ = speech_shards(root, 5, "train", words=6, speeds=(0.9, 1.1), max_seconds=4.0)  # several shards
    assert pq.read_table(d).num_rows == 15 and len(list(d.glob("shard-*"))) >= 3
    return d


def _ds(d, **kw):
    return ShardDataset(d, lambda r: Example(r["utt_id"], r["feats"]), max_frames=1200, max_batch=64, **kw)


def test_plan_respects_the_budget():
    lengths = np.array([100, 300, 120, 500, 90, 310])
    batches = plan_batches(lengths, 620, 64)
    assert sorted(np.concatenate(batches).tolist()) == list(range(6))
    assert all(len(b) * lengths[b].max() <= 620 or len(b) == 1 for b in batches)


def test_short_first_epoch_is_ascending_and_counted(split):
    ds = _ds(split, pool=100)  # one pool: the whole split sorted
    longest = [int(b.lengths.max()) for b in ds.epoch(0, 1, short_first=True)]
    assert longest == sorted(longest) and len(longest) > 2
    shuffled = [int(b.lengths.max()) for b in ds.epoch(0, 1)]
    assert sorted(shuffled) == sorted(longest) and shuffled != longest  # same batches, random order
    assert ds.count_batches(lambda u: True) == len(longest)
    assert ds.count_batches(lambda u: not u.startswith("sp")) == len(list(
        ShardDataset(split, lambda r: None if r["utt_id"].startswith("sp") else Example(r["utt_id"], r["feats"]),
                     1200, 64, pool=100).epoch(0, 1)))


def test_pools_batch_across_shards_and_cover_every_utterance(split):
    one = [b.utt_ids for b in _ds(split).epoch(3, 1)]
    pooled = [b.utt_ids for b in _ds(split, pool=2).epoch(3, 1)]
    assert sorted(u for b in one for u in b) == sorted(u for b in pooled for u in b)
    shard_of = {u: i for i, f in enumerate(sorted(split.glob("shard-*"))) for u in pq.read_table(f)["utt_id"].to_pylist()}
    assert all(len({shard_of[u] for u in b}) == 1 for b in one)  # pool 1: a batch never spans shards
    assert any(len({shard_of[u] for u in b}) > 1 for b in pooled)
    assert _ds(split, pool=2).count_batches(lambda u: True) == len(pooled)


def test_stats_column_is_read_into_batches(split):
    ds = ShardDataset(split, lambda r: Example(r["utt_id"], r["feats"], stats=r["utt_stats"]), 1200, 64, stats=True)
    b = next(iter(ds.epoch(0, 0, shuffle=False)))
    assert b.stats.shape == (len(b.utt_ids), 84)
    assert _ds(split).epoch(0, 0).__next__().stats.shape[1] == 0


def test_prefetch_yields_the_same_batches_and_raises_reader_errors(split):
    from sa2sr_core.features.batches import prefetch

    ds = _ds(split, pool=2)
    want = [b.utt_ids for b in ds.epoch(1, 5)]
    assert [b.utt_ids for b in prefetch(ds.epoch(1, 5), depth=2)] == want
    it = prefetch(ds.epoch(1, 5), depth=1)
    next(it)
    it.close()  # a consumer that stops early does not leave the reader blocked

    def broken():
        yield next(iter(ds.epoch(0, 0)))
        raise OSError("shard-00001.parquet: truncated")

    got = []
    with pytest.raises(OSError, match="truncated"):
        for b in prefetch(broken(), depth=2):
            got.append(b)
    assert len(got) == 1
