"""Where a transformers model comes from: a local directory, the HF cache, or the hub (when it can be reached).

One decision for every model the pipeline loads (the sentiment labeller, a self-supervised encoder), so an offline
machine fails in seconds with a clear message instead of waiting through the hub client's retries."""

from __future__ import annotations


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """One TCP connect to the configured model hub endpoint (HF_ENDPOINT), so an offline machine fails in
    seconds instead of waiting through the hub client's retries."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def local_only(model: str) -> bool:
    """A local directory, a model already in the HF cache, or an unreachable hub: load from disk only."""
    from pathlib import Path

    if Path(model).is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(model, "config.json"), str):
            return True
    except Exception:  # malformed repo id: let from_pretrained report it
        return True
    return not hub_reachable()
