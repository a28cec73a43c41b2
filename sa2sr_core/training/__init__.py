"""The one training loop and its two tasks (SA2SR pre-training, emotion fine-tuning)."""
