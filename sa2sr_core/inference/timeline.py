"""A recording's emotion over time as one PNG: activation / valence / dominance per segment on the corpus
scale, the text-sentiment probabilities as a band, segment boundaries, non-speech shaded, and each segment's
transcript words where they fit (`sa2sr predict --plots DIR`)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from sa2sr_core.inference.vad import FINE
from sa2sr_core.io import atomic_path
from sa2sr_core.names import DIMS, SENTIMENT_CLASSES

COLORS = {"activation": "#d62728", "valence": "#1f77b4", "dominance": "#2ca02c"}
SENTIMENT_COLORS = {"negative": "#e45756", "neutral": "#bab0ac", "positive": "#54a24b"}


def plot_timeline(file_row: dict, segments: pd.DataFrame, scale: tuple[float, float], out: str | Path,
                  notice: str | None = None) -> None:
    """Write the picture of one file (`file_row`: its predict row; `segments`: its rows of the segments table)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    segs = segments.sort_values("start_s")
    end = float(file_row["duration_s"]) or float(segs["end_s"].max())
    width = min(40.0, max(10.0, end / 20))  # inches: about 20 s of audio per inch, within bounds
    fig, (ax, band, words) = plt.subplots(3, 1, figsize=(width, 6.2), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 0.8, 1.2]})
    scored = segs[segs["activation"].notna()]
    for _, s in segs.iterrows():
        if s["kind"] != "speech":
            for a in (ax, band, words):
                a.axvspan(s["start_s"], s["end_s"], color="0.93", lw=0)
        for a in (ax, band):
            a.axvline(s["start_s"], color="0.75", lw=0.6)
    for d in DIMS:  # each segment's value over its span; the line breaks where a pause lies between segments
        xs, ys, prev_end = [], [], None
        for r in scored.itertuples():
            if prev_end is not None and r.start_s > prev_end:
                xs.append(np.nan)
                ys.append(np.nan)
            xs += [r.start_s, r.end_s]
            ys += [getattr(r, d)] * 2
            prev_end = r.end_s
        value = file_row[d]
        ax.plot(xs, ys, color=COLORS[d], lw=2, label=f"{d} (file: {'-' if pd.isna(value) else f'{value:.2f}'})")
    ax.set_ylim(*scale)
    ax.set_ylabel(f"corpus scale {scale[0]:g}-{scale[1]:g}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    title = f"{Path(file_row['path']).name}: " + (f"{len(scored)} speech segments, {file_row['speech_s']:.0f} s of speech"
                                                  if len(scored) else "no speech found: nothing scored")
    notice = textwrap.fill(notice, width=int(width * 13)) if notice else None  # ~13 characters an inch at 10 pt
    ax.set_title(title + (f"\n{notice}" if notice else ""), fontsize=10, loc="left",
                 color="#b00020" if notice else "black")
    for r in scored.itertuples():  # sentiment probabilities stacked: negative, neutral, positive
        bottom = 0.0
        for c in SENTIMENT_CLASSES:
            p = float(getattr(r, f"p_{c}"))
            band.fill_between([r.start_s, r.end_s], bottom, bottom + p, color=SENTIMENT_COLORS[c], lw=0)
            bottom += p
    band.set_ylim(0, 1)
    band.set_yticks([])
    band.set_ylabel("sentiment", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=SENTIMENT_COLORS[c]) for c in SENTIMENT_CLASSES]
    band.legend(handles, SENTIMENT_CLASSES, loc="upper left", bbox_to_anchor=(1.005, 1.1), fontsize=7,
                frameon=False)
    words.set_ylim(0, 1)
    words.set_yticks([])
    words.set_ylabel("words", fontsize=8)
    fig.canvas.draw()
    px_per_s = words.get_window_extent().width / max(end, 1e-3)
    for r in scored.itertuples():  # up to three lines of whole words per segment; none when not one fits
        room = int((r.end_s - r.start_s) * px_per_s / 6.5)  # ~6.5 px a character at 8 pt
        lines = textwrap.wrap(str(r.transcript or ""), width=max(1, room), break_long_words=False)
        lines = [ln for ln in lines if len(ln) <= room]
        if lines:
            shown = lines[:3] if len(lines) <= 3 else lines[:2] + ["…"]
            words.text((r.start_s + r.end_s) / 2, 0.5, "\n".join(shown), ha="center", va="center", fontsize=8)
    words.set_xlim(0, end)
    words.set_xlabel("time (s)")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_all(files: pd.DataFrame, segments: pd.DataFrame, scale: tuple[float, float], out_dir: str | Path,
             notice: str | None = None) -> list[Path]:
    """One PNG per file read as it should be (scored, or without speech: all of it shaded) under out_dir (named
    after the file; a number added where names repeat)."""
    out_dir, written, used = Path(out_dir), [], set()
    for row in files[files["status"].isin(FINE)].to_dict("records"):
        stem = Path(row["path"]).stem
        name, k = f"{stem}.png", 1
        while name in used:
            k += 1
            name = f"{stem}-{k}.png"
        used.add(name)
        plot_timeline(row, segments[segments["path"] == row["path"]], scale, out_dir / name, notice)
        written.append(out_dir / name)
    return written
