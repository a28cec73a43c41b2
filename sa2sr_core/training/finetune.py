"""Fine-tuning (paper §3.3, Table 4) as a task of the training loop (sa2sr_core.training.loop): the emotion regressor
on the (pre-trained or scratch) encoder with the CCC loss, selection on the Development mean CCC; with emotion
classes (finetune.task categories | both), a categorical head on the same pooled representation trained with
cross-entropy (class-balanced on request), alone or beside the CCC loss, selection on UA (both: the mean of UA
and the mean CCC)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.models import EmotionModelConfig
from sa2sr_core.config.training import FinetuneConfig
from sa2sr_core.corpora.finetuning import AUTO_DIMENSIONS
from sa2sr_core.features.batches import Batch
from sa2sr_core.features.emotion import (EmotionData, make_emotion_dataset, read_inputs, read_split, scan_emotion_split,
                                         task_and_classes)
from sa2sr_core.features.text import TextFeatures
from sa2sr_core.metrics import CLASS_METRICS, ccc_per_dim
from sa2sr_core.models import directory
from sa2sr_core.models.backbones import resolve_emotion
from sa2sr_core.models.classical import balanced_weights, class_data, fit_logistic, fit_ridge, split_data
from sa2sr_core.models.directory import finetune_dir_config
from sa2sr_core.models.loaders import load_emotion_model, load_pretrained_encoder
from sa2sr_core.models.regressor import EmotionModel, ccc_loss, split_outputs
from sa2sr_core.models.run import forward_batch, joins_text, predict_split, uses_stats
from sa2sr_core.training.checkpoint import run_fingerprint
from sa2sr_core.training.late_fusion import choose_text_weights, start_text_head
from sa2sr_core.training.loop import Setup, Task, fit, scaled_groups


def start_from_baseline(model: EmotionModel, train_data: EmotionData, valid_data: EmotionData,
                        baseline_cfg: BaselineConfig, log=print) -> dict:
    """Initialise the regressor's linear paths to a classical model of its side inputs (ridge per dimension on the
    utterance functionals, and the text features when the regressor reads them; regulariser chosen on Development
    from params `baseline`: the `baseline` stage's model); returns its Development CCC."""
    stats, text = uses_stats(model), joins_text(model)
    base = fit_ridge(split_data(train_data, stats, text), split_data(valid_data, stats, text), baseline_cfg)
    mu, sd, w, b = base.linear()  # (K,), (K,), (3, K), (3,): one standardisation for every dimension
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    model.regressor.start_from_linear(as_t(mu), as_t(sd), as_t(w), as_t(b))
    log(f"regressor starts from the ridge baseline{' on functionals + text' if stats and text else ' on text' if text else ''} (Development CCC "
        + ", ".join(f"{k} {v:.3f}" for k, v in base.dev_ccc.items()) + ")")
    return base.dev_ccc


def start_classes_from_baseline(model: EmotionModel, train_data: EmotionData, valid_data: EmotionData,
                                baseline_cfg: BaselineConfig, class_balanced: bool, log=print) -> float:
    """Start the class head at the logistic baseline on the regressor's side inputs (functionals [, text]; the
    regulariser chosen on Development UA from params `baseline`), in the standardisation the regressor already
    holds; returns the baseline's Development UA."""
    stats, text = uses_stats(model), joins_text(model)
    base = fit_logistic(class_data(train_data, stats, text), class_data(valid_data, stats, text), baseline_cfg,
                        model.cfg.regressor.classes, class_balanced)
    mean, std = (t.double().numpy() for t in model.regressor.side_scale())
    w, b = base.linear(mean, std)
    model.regressor.start_classes_from_linear(torch.as_tensor(w, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32))
    log(f"class head starts from the logistic baseline{' on functionals + text' if stats and text else ' on text' if text else ''} "
        f"(Development UA {base.dev_ua:.3f}, lambda {base.lam:g})")
    return base.dev_ua


def param_groups(model: EmotionModel, cfg: FinetuneConfig) -> list[dict]:
    """Trainable parameters as optimizer groups: the regressor first (its rate is the one logged), then a
    pre-trained encoder at `encoder_lr_scale` times the rate (a randomly initialised one learns at the full rate)."""
    return scaled_groups(model, model.encoder, cfg.encoder_lr_scale if cfg.init == "pretrained" else 1.0)


def ccc_task_loss(net: torch.nn.Module, batch: Batch):
    """The CCC loss over the three dimensions (paper §3.3)."""
    loss, _ = ccc_loss(forward_batch(net, batch), batch.avd)
    return loss, {"ccc": loss}


def emotion_task_loss(net: torch.nn.Module, batch: Batch, task: str, category_weight: float = 1.0,
                      class_weight: torch.Tensor | None = None):
    """dimensions: the CCC loss; categories: cross-entropy of the class head; both: L_CCC + w * L_CE, each over
    the utterances of the batch that have that label."""
    if task == "dimensions":
        return ccc_task_loss(net, batch)
    avd, logits = split_outputs(forward_batch(net, batch))
    terms, loss = {}, torch.zeros((), device=avd.device)
    has_avd = ~torch.isnan(batch.avd).any(dim=1)
    if task == "both" and int(has_avd.sum()) >= 2:
        terms["ccc"], _ = ccc_loss(avd[has_avd], batch.avd[has_avd])
        loss = loss + terms["ccc"]
    has_cat = batch.category >= 0
    if has_cat.any():
        terms["ce"] = F.cross_entropy(logits[has_cat], batch.category[has_cat], weight=class_weight)
        loss = loss + category_weight * terms["ce"]
    return loss, {"loss": loss, **terms}


def dims_and_classes_scores(out: np.ndarray, targets: np.ndarray, cats: np.ndarray, classes: tuple[str, ...],
                            dims: bool) -> dict:
    """Development figures: val_ccc_* (A/V/D), val_ua / val_wa / val_macro_f1 (classes), val_score (both)."""
    row = {}
    if dims:
        m = ~np.isnan(targets).any(axis=1)
        row.update({f"val_ccc_{k}": v for k, v in ccc_per_dim(out[m, :3], targets[m]).items()})
    if classes:
        m = cats >= 0
        pred = out[m, 3:].argmax(1)
        row.update({f"val_{k}": fn(cats[m], pred) for k, fn in CLASS_METRICS.items()})
    if dims and classes:
        row["val_score"] = (row["val_ccc_mean"] + row["val_ua"]) / 2
    return row


class FinetuneTask(Task):
    """Emotion fine-tuning: the model (pre-trained or scratch encoder, optionally frozen, regressor from the ridge
    baseline), the CCC loss and/or the class head's cross-entropy, and selection on Development (higher is
    better): the mean CCC, UA, or their mean."""

    maximize = True
    start_candidate = True  # the start (the classical baselines on the side inputs) is kept if no epoch beats it

    def __init__(self, cfg: FinetuneConfig, model_cfg: EmotionModelConfig, train_dir, valid_dir, pretrained_dir=None,
                 features: FeatureConfig | None = None, baseline_cfg: BaselineConfig | None = None,
                 auto_task: str = AUTO_DIMENSIONS, text: TextFeatures | None = None, text_info: dict | None = None):
        self.train_dir, self.valid_dir, self.pretrained_dir, self.baseline_cfg = train_dir, valid_dir, pretrained_dir, \
            baseline_cfg
        self.text, self.text_info = text, text_info or {}  # the text route's features (None: sound only)
        self.train_table = read_split(train_dir, text)  # labels, lengths, functionals[, text]: one read before training
        self.task, self.classes = task_and_classes(cfg.task, auto_task, self.train_table)
        self.cfg, self.model_cfg, self.features = replace(cfg, task=self.task), model_cfg, features or FeatureConfig()
        self.score = {"dimensions": "val_ccc_mean", "categories": "val_ua", "both": "val_score"}[self.task]
        self.class_weight = None
        self.late = text is not None and self.text_info.get("fusion") == "late"  # late fusion: late_fusion.py

    def setup(self, device, world, log) -> Setup:
        cfg, task = self.cfg, self.task
        dims, cats = task in ("dimensions", "both"), task in ("categories", "both")
        classes = self.classes
        model_cfg = resolve_emotion(self.model_cfg)  # scratch: the same architecture, randomly initialised
        side_dim = model_cfg.regressor.stats_dim + (self.text.dim if self.text is not None and not self.late else 0)
        if cats:
            model_cfg = replace(model_cfg, regressor=replace(model_cfg.regressor, classes=classes, dimensions=dims,
                                                             class_linear=cfg.class_baseline_start and side_dim > 0))
        if self.text is not None:  # the text route: E features beside the sequence, and what makes them
            model_cfg = replace(model_cfg, regressor=replace(
                model_cfg.regressor, text_dim=self.text.dim,
                text={"source": self.text.source, "features": list(self.text.names), **self.text_info}))
            log(f"text route: {self.text.source} transcripts, {self.text.dim} text features")
        log(f"encoder: {model_cfg.encoder.describe()} ({cfg.init}{', frozen' if cfg.freeze_encoder else ''}); "
            f"task: {task}{f' ({len(classes)} classes: ' + ', '.join(classes) + ')' if cats else ''}")
        model = EmotionModel(model_cfg)
        if cfg.init == "pretrained":
            load_pretrained_encoder(model, self.pretrained_dir)
        if cfg.freeze_encoder:  # an SSL encoder's layer weights still learn (the SUPERB protocol)
            for name, p in model.encoder.named_parameters():
                p.requires_grad_(name == "layer_weights")
        min_frames = model.min_frames()
        train_data = scan_emotion_split(self.train_table, cfg, min_frames, task, classes)
        valid_data = scan_emotion_split(read_split(self.valid_dir, self.text), cfg, min_frames, task, classes)
        if dims and (len(train_data.avd) < 2 or len(valid_data.avd) < 2):
            raise ValueError(f"too few usable utterances: train {len(train_data.avd)}, validation "
                             f"{len(valid_data.avd)}; skipped {train_data.skipped} / {valid_data.skipped}")
        if cats and (len(classes) < 2 or len(valid_data.category) < 2):
            raise ValueError(f"too few classes or utterances with a category: classes {list(classes)}, validation "
                             f"{len(valid_data.category)}; skipped {train_data.skipped} / {valid_data.skipped}")
        if dims:
            with torch.no_grad():  # start the output at the training mean: CCC penalises a mean offset
                model.regressor.out.bias.copy_(torch.from_numpy(np.mean(list(train_data.avd.values()), axis=0)))
        side = uses_stats(model) or joins_text(model)
        if side and dims:  # start from the classical baseline: ridge on the side inputs, chosen on Development
            if self.baseline_cfg is None:
                raise ValueError("a regressor with utterance stats or text starts from the ridge baseline: pass "
                                 "baseline_cfg (params `baseline`)")
            start_from_baseline(model, train_data, valid_data, self.baseline_cfg, log)
            for name in ("stats_linear", "text_linear"):
                if hasattr(model.regressor, name):
                    getattr(model.regressor, name).requires_grad_(not cfg.freeze_baseline_path)
        elif side:  # categories only: the side inputs standardised as for the ridge, no A/V/D path
            x = read_inputs(train_data, train_data.ids, uses_stats(model), joins_text(model)).astype(np.float64)
            model.regressor.standardise_side(torch.from_numpy(x.mean(0)).float(),
                                             torch.from_numpy(np.maximum(x.std(0), 1e-3)).float())
        if cats and model_cfg.regressor.class_linear:  # the class head starts where the logistic baseline ends
            if self.baseline_cfg is None:
                raise ValueError("a class head with side inputs starts from the logistic baseline: pass baseline_cfg "
                                 "(params `baseline`)")
            start_classes_from_baseline(model, train_data, valid_data, self.baseline_cfg, cfg.class_balanced, log)
        if self.late:  # the text head: the text-only baselines, frozen; mixed in after training (finish)
            if self.baseline_cfg is None:
                raise ValueError("late fusion starts its text head from the text-only baseline: pass baseline_cfg "
                                 "(params `baseline`)")
            start_text_head(model, train_data, valid_data, self.baseline_cfg, dims, classes if cats else (),
                            cfg.class_balanced, log)
        if cats and cfg.class_balanced:
            c = np.array([train_data.category[u] for u in sorted(train_data.category)])
            self.class_weight = torch.from_numpy(balanced_weights(c, len(classes))).float().to(device)
        model.to(device)
        train = make_emotion_dataset(self.train_dir, train_data, cfg, uses_stats(model))
        valid = make_emotion_dataset(self.valid_dir, valid_data, cfg, uses_stats(model))
        self.valid, self.device = valid, device  # late fusion chooses its weights on them after training
        opt = torch.optim.Adam(param_groups(model, cfg), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        pre_fp = None  # content, not mtime: `dvc checkout` restores files with new mtimes
        if cfg.init == "pretrained":
            pre_fp = hashlib.sha1((Path(self.pretrained_dir) / "model.safetensors").read_bytes()).hexdigest()
        # the corpus's place as well: two corpora with the same utterance ids are two runs, not one to resume
        ids = train_data.ids
        extra = () if self.text is None else (hashlib.sha1(self.text.x.tobytes()).hexdigest(),)  # the text it reads
        fp = run_fingerprint(cfg, model_cfg.to_dict(), str(self.train_dir), ids[:50], len(ids), pre_fp, *extra)
        return Setup(model, opt, train, valid, fp, report={
            "skipped": {"train": train_data.skipped, "validation": valid_data.skipped},
            "encoder": model_cfg.encoder.describe(), "task": task, "classes": list(classes)})

    def loss(self, net, batch):
        return emotion_task_loss(net, batch, self.task, self.cfg.category_weight, self.class_weight)

    def usable(self, batch: Batch) -> bool:
        if self.task == "categories":
            return bool((batch.category >= 0).any())
        return len(batch.utt_ids) >= 2  # CCC needs a variance

    def train_mode(self, net) -> None:
        net.train()
        if self.cfg.freeze_encoder:
            net.encoder.eval()  # frozen: no SpecAugment either

    def validate(self, model, valid, device) -> dict:
        if self.task == "dimensions":
            _, preds, targets = predict_split(model, valid, device)
            return {f"val_ccc_{k}": v for k, v in ccc_per_dim(preds, targets).items()}
        _, out, targets, cats = predict_split(model, valid, device, with_categories=True)
        return dims_and_classes_scores(out, targets, cats, self.classes, self.task == "both")

    def save_best(self, model, out_dir: Path) -> None:
        pretrained = str(self.pretrained_dir) if self.cfg.init == "pretrained" and self.pretrained_dir else None
        directory.save(out_dir, model, finetune_dir_config(model, self.features, (self.cfg.scale_min, self.cfg.scale_max),
                                                           asdict(self.cfg), pretrained))

    def finish(self, result: dict, out_dir: Path, log=print) -> dict:
        """Late fusion, after training: the selected model's mixing weights chosen on Development and saved with it;
        the selected row's Development figures become the mix's (the acoustic half's go under `late_fusion`)."""
        if not self.late:
            return result
        model = load_emotion_model(out_dir, self.device)
        dims, cats = self.task in ("dimensions", "both"), self.task in ("categories", "both")
        report = choose_text_weights(model, self.valid, self.device, dims, self.classes if cats else (), log)
        acoustic = {k: v for k, v in result["selected"].items() if k.startswith("val_")}
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if not distributed or torch.distributed.get_rank() == 0:
            self.save_best(model, Path(out_dir))
        selected = {**result["selected"], **self.validate(model, self.valid, self.device)}
        return {**result, "selected": selected, "late_fusion": {**report, "acoustic": acoustic}}

    def describe(self, row: dict, val: dict, improved: bool) -> str:
        parts = [f"epoch {row['epoch']}: train loss {row['train_loss']:.3f}" if self.task != "dimensions" else
                 f"epoch {row['epoch']}: train loss {row['train_loss_ccc']:.3f}"]
        if "val_ccc_mean" in row:
            parts.append(f"val CCC A {row['val_ccc_activation']:.3f} V {row['val_ccc_valence']:.3f} "
                         f"D {row['val_ccc_dominance']:.3f} mean {row['val_ccc_mean']:.3f}")
        if "val_ua" in row:
            parts.append(f"val UA {row['val_ua']:.3f} WA {row['val_wa']:.3f} F1 {row['val_macro_f1']:.3f}")
        return " | ".join(parts) + f"{' *' if improved else ''} | lr {row['lr']:.2g}"


def train_emotion(cfg: FinetuneConfig, model_cfg: EmotionModelConfig, train_dir, valid_dir, out_dir,
                  pretrained_dir=None, features: FeatureConfig | None = None,
                  on_epoch_end: Callable[[int, dict], None] | None = None, log=print,
                  baseline_cfg: BaselineConfig | None = None, auto_task: str = AUTO_DIMENSIONS,
                  text: TextFeatures | None = None, text_info: dict | None = None) -> dict:
    """Fine-tune (or resume); the best model goes to out_dir (a model directory of kind "finetune", with the
    `features` it was trained on); returns the selected epoch, history, stopped_by, what was skipped. auto_task:
    what finetune.task `auto` becomes (the fine-tuning corpus's FinetuneCorpus.auto_task); text: the text route's
    features (sa2sr_core.features.text), text_info: what makes them (source, text model), saved with the model."""
    task = FinetuneTask(cfg, model_cfg, train_dir, valid_dir, pretrained_dir, features, baseline_cfg, auto_task, text,
                        text_info)
    return task.finish(fit(task, out_dir, on_epoch_end, log), Path(out_dir), log)


def fold_metrics(cfg: FinetuneConfig, results: dict) -> tuple[dict, dict]:
    """(the DVC metric, the summary) of fine-tuning: for one partition its selected Development figures; for the
    folds of a cross-validation each fold's under `folds` and, at the top, their mean over folds."""
    def one(res: dict) -> dict:
        sel = res["selected"]
        return {**{k: sel[k] for k in sel if k.startswith("val_")}, "epoch": sel["epoch"],
                "epochs_run": res["epochs_run"], "stopped_by": res["stopped_by"],
                **({"late_fusion": res["late_fusion"]} if "late_fusion" in res else {})}

    def start(res: dict) -> dict:  # epoch 0: the classical start, a candidate of Development selection
        return {"start": {k: v for k, v in (res.get("start") or {}).items() if k.startswith("val_")}} \
            if res.get("start") else {}

    first = next(iter(results.values()))
    head = {"encoder": first["encoder"], "task": first["task"], "init": cfg.init, "freeze_encoder": cfg.freeze_encoder}
    if len(results) == 1 and next(iter(results)).name is None:
        res = first
        metrics = {**{k: v for k, v in one(res).items() if k.startswith("val_")}, **head,
                   **{k: v for k, v in one(res).items() if not k.startswith("val_")}}
        return metrics, {**metrics, **start(res), "skipped": res["skipped"]}
    folds = {f.name: {**one(r), "train": list(f.train), "development": list(f.validation), "test": list(f.tests)}
             for f, r in results.items()}
    means = {k: float(np.mean([m[k] for m in folds.values()])) for k in folds[next(iter(folds))] if k.startswith("val_")}
    metrics = {**means, **head, "folds": folds}
    return metrics, {**metrics, "starts": {f.name: start(r).get("start") for f, r in results.items()},
                     "skipped": {f.name: r["skipped"] for f, r in results.items()}}


def remove_other_layout(model_dir, folds) -> None:
    """The fine-tuning output persists between runs (resume): a cross-validation's models live in fold-<k>/, one
    partition's in the folder itself; what the other layout (or a fold no longer asked for) left is removed."""
    import shutil

    root = Path(model_dir)
    if not root.is_dir():
        return
    names = {f.name for f in folds}
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith("fold-") and p.name not in names:
            shutil.rmtree(p)
        elif p.is_file() and None not in names:
            p.unlink()
