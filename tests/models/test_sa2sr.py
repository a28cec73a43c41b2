"""The SA2SR network learns: it overfits a handful of real (synthesized) utterances."""

import torch

from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.config.training import PretrainConfig
from sa2sr_core.models.sa2sr import SA2SR, greedy_decode
from sa2sr_core.training.pretrain import make_dataset, scan_split
from sa2sr_core.vocab import decode
from tests.helpers import speech_shards


def test_overfits_a_handful_of_utterances(tmp_path):
    split, labels = speech_shards(tmp_path, 4, words=4)
    cfg = PretrainConfig(max_frames_per_batch=100000)
    data = scan_split(split, labels)
    ds = make_dataset(split, data, cfg)
    batch = next(ds.epoch(0, 0, shuffle=False))
    torch.manual_seed(0)
    model = SA2SR(SA2SRConfig(encoder=EncoderConfig(hidden=96, layers=2, specaug_p=0.0), summarizer_hidden=32))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for step in range(300):
        _, losses = model(batch.feats, batch.lengths, batch.tokens, batch.token_lengths, batch.sentiment)
        loss = losses["ctc"] + 1.0 * losses["sentiment"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        first = first if first is not None else float(losses["ctc"])
        if float(losses["ctc"]) < 0.5 and float(losses["sentiment"]) < 0.05:
            break
    model.eval()
    out, losses = model(batch.feats, batch.lengths, batch.tokens, batch.token_lengths, batch.sentiment)
    hyps = [decode(ids) for ids in greedy_decode(out["ctc_log_probs"], out["out_lengths"])]
    refs = [decode(t[:n].tolist()) for t, n in zip(batch.tokens, batch.token_lengths)]
    assert float(losses["ctc"]) < 0.05 * first
    assert hyps == refs
    assert out["sentiment_logits"].argmax(-1).tolist() == batch.sentiment.tolist()
