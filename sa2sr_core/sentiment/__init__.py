"""Text sentiment: the pseudo-labeller, labelling a corpus, and the IEMOCAP study (Table 1)."""
