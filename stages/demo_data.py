"""Stage demo_data: synthesize the demo corpus (espeak-ng) for every corpus whose path in params is null."""

from sa2sr_core.corpora.demo import build_demo
from sa2sr_core.io import atomic_dir
from sa2sr_core.params import demo_config, demo_corpora, load_params


def main() -> None:
    params = load_params()
    corpora = demo_corpora(params)
    with atomic_dir(params["data"]["demo_dir"]) as tmp:
        counts = build_demo(tmp, demo_config(params), corpora)
    print(f"demo corpus: {counts or 'nothing to synthesize (every corpus has a path)'}")


if __name__ == "__main__":
    main()
