"""Corpus readers (official layouts -> manifest rows + rejects) and the demo corpus."""
