"""The pre-trained SA2SR network as the speech recogniser it is: CTC transcripts of a split's utterances, greedy
and, given a decoder (sa2sr_core.models.word_decoder), through the lexicon and word LM (the `asr` source of the
text route, sa2sr_core.features.text)."""

from __future__ import annotations

import torch
from tqdm import tqdm

from sa2sr_core.features.batches import Example, ShardDataset
from sa2sr_core.models.sa2sr import SA2SR, greedy_decode
from sa2sr_core.vocab import decode


@torch.no_grad()
def transcribe_split(model: SA2SR, split_dir, device="cpu", max_frames: int = 16000, max_batch: int = 64,
                     desc: str = "transcribing", decoder=None) -> tuple[dict[str, str], dict[str, str]]:
    """({utt_id: greedy CTC transcript}, {utt_id: the decoder's transcript}; the greedy one again without a
    decoder) of every utterance of a split's shards ("" where the model hears no character, or the utterance is
    shorter than one encoder step)."""
    model.eval()
    data = ShardDataset(split_dir, lambda row: Example(row["utt_id"], row["feats"]), max_frames, max_batch)
    out, decoded = {}, {}
    with tqdm(desc=desc, unit="utt", leave=False) as bar:
        for batch in data.epoch(0, 0, shuffle=False):
            batch = batch.to(device)
            h, lengths = model.encoder(batch.feats, batch.lengths)  # (B, T', H)
            log_probs = torch.log_softmax(model.ctc_head(h).float(), dim=-1)  # (B, T', 29)
            for u, ids in zip(batch.utt_ids, greedy_decode(log_probs, lengths)):
                out[u] = decode(ids)
            if decoder is not None:
                decoded.update(zip(batch.utt_ids, decoder.decode_batch(log_probs, lengths)))
            bar.update(len(batch.utt_ids))
    return out, (decoded if decoder is not None else out)
