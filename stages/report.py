"""Stage report: metrics/report.md, the one page a researcher reads after `dvc repro`."""

from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.report import ReportInputs, render_report
from sa2sr_core.io import write_text
from sa2sr_core.params import load_params


def main() -> None:
    inputs = ReportInputs.from_params(load_params())
    write_text(inputs.path, render_report(inputs))
    print(f"wrote {inputs.path}")


if __name__ == "__main__":
    run_main(main)
