"""Running an emotion model over a split: the forward pass of one batch (with the utterance functionals when the
regressor reads them) and the predictions of a whole split. Fine-tuning validates with it, evaluation scores with
it: both stand on it, neither on the other."""

from __future__ import annotations

import numpy as np
import torch

from sa2sr_core.features.batches import ShardDataset
from sa2sr_core.models.regressor import EmotionModel


def uses_stats(model: EmotionModel) -> bool:
    return model.cfg.regressor.stats_dim > 0


def uses_text(model: EmotionModel) -> bool:
    return model.cfg.regressor.text_dim > 0


def joins_text(model: EmotionModel) -> bool:
    """Whether the text features are side inputs of the acoustic network (concat fusion), not a head of their own."""
    return model.cfg.regressor.joint_text_dim > 0


def forward_batch(model: EmotionModel, batch) -> torch.Tensor:
    if uses_text(model) and batch.text is None:
        raise ValueError(f"this model reads text features (source {model.cfg.regressor.text.get('source')!r}) but "
                         f"the batch has none: pass the text features (stage text_features) to the dataset")
    return model(batch.feats, batch.lengths, batch.stats if uses_stats(model) else None,
                 batch.text if uses_text(model) else None)


@torch.no_grad()
def predict_split(model: EmotionModel, dataset: ShardDataset, device, with_categories: bool = False):
    """(utt_ids, outputs (N, 3 [+ C]), A/V/D targets (N, 3), NaN where none) over a whole split, in shard order;
    with_categories: also the class targets (N,), -1 where none."""
    model.eval()
    ids, preds, targets, cats = [], [], [], []
    for batch in dataset.epoch(0, 0, shuffle=False):
        batch = batch.to(device)
        preds.append(forward_batch(model, batch).float().cpu().numpy())
        targets.append(batch.avd.cpu().numpy())
        cats.append(batch.category.cpu().numpy() if batch.category is not None else np.full(len(batch.utt_ids), -1))
        ids += batch.utt_ids
    out = ids, np.concatenate(preds), np.concatenate(targets)
    return (*out, np.concatenate(cats)) if with_categories else out
