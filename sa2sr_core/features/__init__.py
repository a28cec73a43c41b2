"""Feature extraction: LFBE, utterance functionals, Parquet shards, batches from them."""
