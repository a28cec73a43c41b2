"""`sa2sr reproduce`: the paper's study as DVC experiments, and how long it takes."""
