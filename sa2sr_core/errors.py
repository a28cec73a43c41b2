"""Errors a user can fix, and how a command reports them: one line naming the file or key and what to do,
exit status 2, no traceback. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys
from typing import Callable


class Sa2srError(ValueError):
    """Bad input (a file, a parameter, a checkpoint) that the message names, with what to do about it."""


class ParamsError(Sa2srError):
    """A parameter that is unknown, of the wrong type or out of range; the message names its key."""


def run_main(main: Callable[..., object], *args) -> None:
    """Run a stage's or script's main(); an Sa2srError ends it with `error: <message>` and exit status 2."""
    try:
        main(*args)
    except Sa2srError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
