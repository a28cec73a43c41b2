"""The names every part of sa2sr shares, defined once: the emotion dimensions, the sentiment classes and the
CTC vocabulary's symbols."""

#: The dimensional emotion attributes, in the order of every (N, 3) array, table and model output.
DIMS = ("activation", "valence", "dominance")

#: The text-sentiment pseudo-label classes, in the order of the sentiment head's logits.
SENTIMENT_CLASSES = ("negative", "neutral", "positive")

#: The 29 CTC symbols (paper §4.2): index 0 is the blank, then space, apostrophe and the 26 lower-case letters.
BLANK = "<blank>"
CHARS = (BLANK, " ", "'", *(chr(c) for c in range(ord("a"), ord("z") + 1)))


def class_column(name: str) -> str:
    """The column of an emotion class's probability (p_negative / p_neutral / p_positive are the text
    sentiment's, so a class called `neutral` gets p_class_neutral)."""
    return f"p_class_{name}"
