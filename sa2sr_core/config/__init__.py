"""Every component's configuration, one dataclass each, in one module per part of the pipeline (no torch, no
model, feature or training code: a stage depends only on the configs of what it runs)."""
