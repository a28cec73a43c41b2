"""The names every part of sa2sr shares, defined once: the emotion dimensions and the sentiment classes."""

#: The dimensional emotion attributes, in the order of every (N, 3) array, table and model output.
DIMS = ("activation", "valence", "dominance")

#: The text-sentiment pseudo-label classes, in the order of the sentiment head's logits.
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
