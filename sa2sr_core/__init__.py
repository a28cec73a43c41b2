"""SA2SR: sentiment-aware ASR pre-training for speech emotion recognition."""
