"""Stage report: metrics/report.md, the one page a researcher reads after `dvc repro`."""

from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.report import render_report
from sa2sr_core.io import write_text
from sa2sr_core.params import load_params


def main() -> None:
    params = load_params()
    path = params["report"]["path"]
    write_text(path, render_report(params, path))
    print(f"wrote {path}")


if __name__ == "__main__":
    run_main(main)
