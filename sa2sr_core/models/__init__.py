"""Models: the acoustic encoder, the SA2SR pre-training network, the emotion regressor."""
