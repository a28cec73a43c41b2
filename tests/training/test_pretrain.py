import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.config.training import PretrainConfig
from sa2sr_core.training.pretrain import MissingLabelsError, scan_split, train_sa2sr
from tests.helpers import speech_shards

TINY = SA2SRConfig(encoder=EncoderConfig(hidden=16, layers=1), summarizer_hidden=8)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    train, lab_t = speech_shards(root, 6, "train", words=5, speeds=(0.9,))
    valid, lab_v = speech_shards(root, 3, "validation", seed=1, words=5)
    return train, valid, pd.concat([lab_t, lab_v])


def _cfg(**kw):
    return PretrainConfig(**{"lr": 3e-3, "max_epochs": 3, "max_frames_per_batch": 1500, "seed": 7, **kw})


SCHEDULED = dict(schedule="cosine", warmup_steps=3, short_first_epochs=1, shard_pool=2)


@pytest.mark.parametrize("sched", [{}, SCHEDULED], ids=["constant", "cosine-shortfirst-pool"])
def test_resume_gives_the_same_result_as_an_uninterrupted_run(shards, tmp_path, sched):
    train, valid, labels = shards
    full = train_sa2sr(_cfg(**sched), TINY, train, valid, labels, tmp_path / "a", log=lambda *_: None)

    def killed(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_sa2sr(_cfg(**sched), TINY, train, valid, labels, tmp_path / "b", on_epoch_end=killed,
                    log=lambda *_: None)
    logs = []
    resumed = train_sa2sr(_cfg(**sched), TINY, train, valid, labels, tmp_path / "b", log=logs.append)
    if sched:  # the rate followed the schedule: warm-up, then down towards the floor at the planned last update
        lrs = [r["lr"] for r in full["history"]]
        steps = [r["updates"] for r in full["history"]]
        assert steps == [steps[0] * (i + 1) for i in range(3)]  # the planned number of updates per epoch
        from sa2sr_core.training.schedule import lr_factor
        assert lrs == [pytest.approx(_cfg().lr * lr_factor(s - 1, steps[-1], 3, "cosine", 0.05)) for s in steps]
        assert lrs[1] > lrs[2]
    assert any("resuming" in m for m in logs)
    assert [r["cer"] for r in resumed["history"]] == [r["cer"] for r in full["history"]]
    assert resumed["selected"] == full["selected"]  # the history holds no time: equal whole
    assert resumed["history"] == full["history"]
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ckpt = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 3
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["model"]["encoder"]["hidden"] == 16
    assert json.loads((tmp_path / "a" / "vocab.json").read_text())["chars"][:3] == ["<blank>", " ", "'"]


def test_background_prefetch_gives_the_same_training(shards, tmp_path):
    train, valid, labels = shards
    a = train_sa2sr(_cfg(max_epochs=2, prefetch=0), TINY, train, valid, labels, tmp_path / "a", log=lambda *_: None)
    b = train_sa2sr(_cfg(max_epochs=2, prefetch=3), TINY, train, valid, labels, tmp_path / "b", log=lambda *_: None)
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]


def test_changed_config_starts_afresh(shards, tmp_path):
    train, valid, labels = shards
    train_sa2sr(_cfg(max_epochs=1), TINY, train, valid, labels, tmp_path, log=lambda *_: None)
    logs = []
    train_sa2sr(_cfg(max_epochs=1, lr=1e-3), TINY, train, valid, labels, tmp_path, log=logs.append)
    assert any("starting afresh" in m for m in logs)


def test_an_unreadable_checkpoint_is_named_and_kept(shards, tmp_path):
    from sa2sr_core.training.checkpoint import CheckpointError

    train, valid, labels = shards
    train_sa2sr(_cfg(max_epochs=1), TINY, train, valid, labels, tmp_path, log=lambda *_: None)
    ckpt = tmp_path / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])  # a truncated file, as a full disk or a bad copy leaves it
    with pytest.raises(CheckpointError, match=rf"{ckpt} cannot be read as a training checkpoint .* delete it to "
                                              rf"start this training afresh \(rm {ckpt}\)"):
        train_sa2sr(_cfg(max_epochs=2), TINY, train, valid, labels, tmp_path, log=lambda *_: None)
    assert ckpt.read_bytes() == data[: len(data) // 2]  # never overwritten: the user decides
    torch.save({"something": "else"}, ckpt)
    with pytest.raises(CheckpointError, match="not an sa2sr training checkpoint"):
        train_sa2sr(_cfg(max_epochs=2), TINY, train, valid, labels, tmp_path, log=lambda *_: None)


def test_missing_labels_are_named(shards):
    train, _, labels = shards
    with pytest.raises(MissingLabelsError, match=r"3 utterances .*'train-000'"):
        scan_split(train, labels[~labels["utt_id"].isin(["train-000", "train-001", "train-002"])])


def test_bad_transcripts_are_skipped_and_counted(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    split, labels = speech_shards(tmp_path, 3, words=6)
    path = next(split.glob("shard-*.parquet"))
    t = pq.read_table(path)
    texts = t["text"].to_pylist()
    texts[0], texts[1] = "ROOM 101", ""  # a digit, an empty transcript
    t = t.set_column(t.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    pq.write_table(t, path)
    data = scan_split(split, labels)
    assert data.skipped["outside_vocabulary"] == 1 and data.skipped["empty_transcript"] == 1
    assert len(data.tokens) == 1


@pytest.mark.slow
def test_ddp_two_processes_gloo(shards, tmp_path):
    train, valid, labels = shards
    labels.to_parquet(tmp_path / "labels.parquet")
    worker = Path(__file__).resolve().parents[1] / "ddp_worker.py"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29533", str(worker), str(train), str(valid),
                          str(tmp_path / "labels.parquet"), str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr[-3000:]
    sums = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert sums[0]["param_sum"] == sums[1]["param_sum"]  # DDP kept the replicas identical
    assert sums[0]["world"] == 2 and (tmp_path / "out" / "model.safetensors").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_on_loopback_give_the_single_process_update(shards, tmp_path):
    """Pre-training across hosts: two torchrun "nodes" (one process each) meet at a c10d rendezvous endpoint on
    127.0.0.1 and train with gloo; their update equals one process's over the same utterances (docs/pretraining.md:
    the multi-node command)."""
    train, valid, labels = shards
    labels.to_parquet(tmp_path / "labels.parquet")
    n = len(pd.concat([pd.read_parquet(p, columns=["utt_id"]) for p in sorted(Path(train).rglob("*.parquet"))]))
    assert n % 2 == 0
    root, worker = Path(__file__).resolve().parents[2], Path(__file__).resolve().parents[1] / "ddp_step_worker.py"
    args = [str(train), str(valid), str(tmp_path / "labels.parquet")]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, str(worker), *args, str(tmp_path / "one"), str(n)], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    port = _free_port()
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                               "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", "sa2sr",
                               "--rdzv_conf", f"is_host={int(k == 0)}", "--local_addr", "127.0.0.1",
                               str(worker), *args, str(tmp_path / "two"), str(n)],
                              cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in (0, 1)]
    for p in nodes:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    one = json.loads((tmp_path / "one" / "rank0.json").read_text())
    ranks = [json.loads((tmp_path / "two" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert one["world"] == 1 and [r["world"] for r in ranks] == [2, 2]
    assert one["updates"] == ranks[0]["updates"] == 1  # one update each: all utterances, or half on each node
    assert ranks[0]["params"] == ranks[1]["params"]  # the nodes' replicas stayed identical
    a, b = torch.tensor(one["params"]), torch.tensor(ranks[0]["params"])
    assert torch.allclose(a, b, atol=1e-6), float((a - b).abs().max())
    assert ranks[0]["val_loss_ctc"] == pytest.approx(one["val_loss_ctc"], rel=1e-5)
    assert ranks[0]["val_loss_sentiment"] == pytest.approx(one["val_loss_sentiment"], rel=1e-5)
