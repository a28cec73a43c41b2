"""Stage correlate: IEMOCAP speech emotion x text sentiment (paper Table 1), Spearman, Cramér's V, heatmap."""

import json

import pandas as pd

from sa2sr_core.errors import run_main
from sa2sr_core.io import write_csv, write_json
from sa2sr_core.corpora.manifest import load_manifest
from sa2sr_core.params import corpus_root, labels_path, load_params, manifest_path, summary_path
from sa2sr_core.sentiment.correlation import correlate, paper_reference, plot_table


def main() -> None:
    params = load_params()
    p = params["correlate"]
    m = load_manifest(manifest_path(params, "iemocap"))
    labels = pd.read_parquet(labels_path(params, "iemocap"))
    df = m[["utt_id", "emotion"]].merge(labels[["utt_id", "sentiment"]], on="utt_id", how="left")
    table, result = correlate(df, merge_excited=p["merge_excited"], groups=p["groups"])
    _, is_demo = corpus_root(params, "iemocap")
    result["data"] = "demo" if is_demo else "IEMOCAP"
    result["labeler"] = json.loads(summary_path(params, "labels", "iemocap").read_text())["labeler"]
    result["paper"] = paper_reference(p["groups"])
    write_csv(p["table_csv"], table.reset_index())
    plot_table(table, p["heatmap"], f"IEMOCAP ({result['data']}): emotion x text sentiment "
                                    f"(Spearman {result['spearman']:.2f})")
    write_json(p["json"], result)
    scores = {k: result[k] for k in ("spearman", "p_value", "cramers_v", "n")}
    write_json(p["scores"], scores)  # the DVC metric
    print(table)
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    run_main(main)
