"""Build a RoBERTa sequence classifier and its tokenizer locally (no hub), for offline tests and benchmarks.

The tokenizer is a byte-level BPE trained on the given texts; the model has random weights unless
`bias` forces one class. Saved with `save_pretrained`, so it loads through the same
`AutoTokenizer` / `AutoModelForSequenceClassification` path as the real labeller.
"""

from __future__ import annotations

from pathlib import Path


def build_local_roberta(out: str | Path, texts: list[str], id2label: dict[int, str], size: str = "tiny",
                        winner: int | None = None, seed: int = 0) -> Path:
    """Save a RoBERTa classifier under `out`. size: 'tiny' (tests) or 'base' (roberta-base dimensions).
    `winner`: make that output index win for every input (for label-mapping tests)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=2000, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                  sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                  mask_token="<mask>", model_max_length=512)
    tok.save_pretrained(out)
    dims = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64) if size == "tiny" \
        else dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    cfg = RobertaConfig(vocab_size=len(tok), max_position_embeddings=514, num_labels=len(id2label),
                        id2label=id2label, label2id={v: k for k, v in id2label.items()},
                        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        **dims)
    torch.manual_seed(seed)
    model = RobertaForSequenceClassification(cfg).eval()
    if winner is not None:
        with torch.no_grad():
            model.classifier.out_proj.weight.zero_()
            model.classifier.out_proj.bias.zero_()
            model.classifier.out_proj.bias[winner] = 5.0
    model.save_pretrained(out)
    return out
