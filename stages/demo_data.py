"""Stage demo_data@<corpus>: synthesize the demo version of one corpus (espeak-ng) when its path in params is
null; when the corpus has a path, write only a note saying so (the stage re-runs only for its own corpus)."""

import sys

from sa2sr_core.config.demo import demo_config
from sa2sr_core.corpora.demo import build_demo
from sa2sr_core.errors import run_main
from sa2sr_core.io import atomic_dir
from sa2sr_core.params import demo_corpus_dir, load_params


def main(corpus: str) -> None:
    params = load_params()
    real = params["data"].get(corpus)
    with atomic_dir(demo_corpus_dir(params, corpus)) as tmp:
        if real:
            (tmp / "NOT_USED.txt").write_text(f"data.{corpus} = {real}: the demo is not synthesized for {corpus}.\n")
            print(f"demo {corpus}: not needed (data.{corpus} = {real})")
            return
        counts = build_demo(tmp, demo_config(params), [corpus])
    print(f"demo {corpus}: {counts[corpus]} utterances")


if __name__ == "__main__":
    run_main(main, sys.argv[1])
