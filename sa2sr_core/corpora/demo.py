"""The built-in demo corpus: espeak-ng speech written in the three official layouts.

Emotional speech is shaped like the paper's problem. Each utterance has latent activation `a`,
valence `v` and dominance `d` in [-1, 1]:
  * activation is carried strongly by prosody (speaking rate, loudness, pitch range);
  * dominance partly: it correlates with activation and raises loudness a little;
  * valence mostly by the words (the sentence's sentiment agrees with the sign of `v` with
    probability `text_agreement`), and only weakly by prosody (a small pitch shift);
  * every speaker has its own voice, pitch and rate offsets, and labels get Gaussian noise.
The LibriSpeech-layout speech carries the same weak prosody-sentiment link (pitch follows sentiment).
Everything is deterministic given the seed.
"""

from __future__ import annotations

import csv
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from sa2sr_core.audio import resample
from sa2sr_core.config.demo import DemoConfig
from sa2sr_core.corpora.espeak import Espeak, Prosody
from sa2sr_core.corpora.sentences import make_sentence
from sa2sr_core.names import SENTIMENT_CLASSES

ACCENTS = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
MALE = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
FEMALE = ["f1", "f2", "f3", "f4", "f5"]
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Speaker:
    sid: str
    gender: str
    voice: str
    pitch: int
    rate: int
    volume: int


class SpeakerPool:
    """Draws distinct espeak voices (accent + variant) with per-speaker pitch / rate / volume offsets."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        combos = [(a, v, "M") for a in ACCENTS for v in MALE] + [(a, v, "F") for a in ACCENTS for v in FEMALE]
        rng.shuffle(combos)
        self._combos = combos

    def draw(self, sid: str, gender: str | None = None) -> Speaker:
        idx = next(i for i, c in enumerate(self._combos) if gender is None or c[2] == gender)
        accent, variant, g = self._combos.pop(idx)
        return Speaker(sid, g, f"{accent}+{variant}", self.rng.randint(35, 65), self.rng.randint(-20, 20),
                       self.rng.randint(-15, 15))


def _sentiment_of(v: float) -> str:
    return "positive" if v > 0.33 else "negative" if v < -0.33 else "neutral"


class DemoSynth:
    def __init__(self, cfg: DemoConfig):
        self.cfg = cfg
        self.engine = Espeak.get()

    def speak(self, text: str, spk: Speaker, a: float, v: float, d: float) -> np.ndarray:
        """Synthesize `text` for speaker `spk` with prosody from the latent emotion (a, v, d)."""
        prosody = Prosody(
            rate=int(np.clip(170 + spk.rate + 70 * a, 90, 320)),
            volume=int(np.clip(100 + spk.volume + 45 * a + 15 * d, 30, 200)),
            pitch=int(np.clip(spk.pitch + 8 * a + 4 * v, 0, 100)),
            range=int(np.clip(50 + 35 * a + 5 * v, 0, 100)),
        )
        wav = resample(self.engine.synthesize(text, spk.voice, prosody), self.engine.sample_rate, SAMPLE_RATE)
        noise_rng = np.random.default_rng([self.cfg.seed, zlib.crc32(f"{spk.sid}|{text}".encode())])
        noise = noise_rng.standard_normal(len(wav)).astype(np.float32) * 10 ** (self.cfg.noise_db / 20)
        lead = np.zeros(int(0.1 * SAMPLE_RATE), np.float32)  # a little silence at each end, like real recordings
        return np.clip(np.concatenate([lead, wav, lead]) + np.concatenate([lead, noise, lead]), -1, 1)

    def noisy(self, x: float, rng: random.Random) -> float:
        """A noisy label for latent `x` (drawn from the corpus's own rng, so corpora are independent)."""
        return float(np.clip(x + rng.gauss(0, self.cfg.label_noise), -1, 1))


def _latent(rng: random.Random) -> tuple[float, float, float]:
    a, v = rng.uniform(-1, 1), rng.uniform(-1, 1)
    d = max(-1.0, min(1.0, 0.6 * a + rng.gauss(0, 0.35)))
    return a, v, d


def _text_for(rng: random.Random, v: float, agreement: float) -> str:
    sentiment = _sentiment_of(v) if rng.random() < agreement else rng.choice(SENTIMENT_CLASSES)
    return make_sentence(rng, sentiment, 1 + min(2, int(abs(v) * 3)))


def iemocap_category(a: float, v: float, rng: random.Random) -> str:
    """A categorical label consistent with (activation, valence); a few no-agreement / rare codes."""
    r = rng.random()
    if r < 0.05:
        return "xxx"
    if r < 0.07:
        return rng.choice(["oth", "sur", "fea", "dis"])
    if v < -0.3:
        return "ang" if a > 0.4 else "sad" if a < -0.2 else "fru"
    if v > 0.3:
        return "exc" if a > 0.3 else "hap"
    return "neu"


MSP_CLASS = {"ang": "A", "sad": "S", "fru": "C", "hap": "H", "exc": "H", "neu": "N", "xxx": "X", "oth": "O",
             "sur": "U", "fea": "F", "dis": "D"}


def draw_speakers(name: str, cfg: DemoConfig, pool: SpeakerPool) -> dict[str, list[Speaker]]:
    """The speakers of each split (subset, session or partition) of corpus `name`."""
    if name == "librispeech":
        num, out = 100, {}
        for subset, k in cfg.librispeech_speakers.items():
            out[subset] = [pool.draw(str(num + j + 1)) for j in range(k)]
            num += k
        return out
    if name == "iemocap":
        return {str(s): [pool.draw(f"Ses0{s}F", "F"), pool.draw(f"Ses0{s}M", "M")] for s in range(1, 6)}
    num, out = 0, {}
    for split, k in cfg.msp_speakers.items():
        out[split] = [pool.draw(str(num + j + 1)) for j in range(k)]
        num += k
    return out


def build_librispeech(out: Path, synth: DemoSynth, spks: dict[str, list[Speaker]], rng: random.Random) -> int:
    cfg, n = synth.cfg, 0
    for subset, count in cfg.librispeech.items():
        speakers = spks[subset]
        for i in tqdm(range(count), desc=f"demo LibriSpeech/{subset}", leave=False):
            spk = speakers[i % len(speakers)]
            chapter = f"{int(spk.sid) * 10 + i % 2}"
            cdir = out / "LibriSpeech" / subset / spk.sid / chapter
            cdir.mkdir(parents=True, exist_ok=True)
            sentiment = rng.choice(SENTIMENT_CLASSES)
            text = make_sentence(rng, sentiment, rng.randint(1, 3))
            v = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}[sentiment]
            utt = f"{spk.sid}-{chapter}-{i:04d}"
            sf.write(cdir / f"{utt}.flac", synth.speak(text, spk, rng.uniform(-0.3, 0.3), v, 0.0), SAMPLE_RATE)
            with open(cdir / f"{spk.sid}-{chapter}.trans.txt", "a") as f:
                f.write(f"{utt} {text.upper()}\n")
            n += 1
    return n


def build_iemocap(out: Path, synth: DemoSynth, spks: dict[str, list[Speaker]], rng: random.Random) -> int:
    cfg, n = synth.cfg, 0
    for session in range(1, 6):
        sdir = out / "IEMOCAP_full_release" / f"Session{session}"
        speakers = dict(zip("FM", spks[str(session)]))
        per_dialog = 10
        total = 2 * cfg.iemocap_per_speaker
        for start in range(0, total, per_dialog):
            kind = "impro" if (start // per_dialog) % 2 == 0 else "script"
            dialog = f"Ses0{session}F_{kind}0{start // per_dialog + 1}"
            wdir = sdir / "sentences" / "wav" / dialog
            wdir.mkdir(parents=True, exist_ok=True)
            emo_lines, tr_lines, t = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n"], [], 0.0
            for k in range(min(per_dialog, total - start)):
                g = "F" if k % 2 == 0 else "M"
                utt = f"{dialog}_{g}{k:03d}"
                a, v, d = _latent(rng)
                text = _text_for(rng, v, cfg.text_agreement)
                wav = synth.speak(text, speakers[g], a, v, d)
                sf.write(wdir / f"{utt}.wav", wav, SAMPLE_RATE, subtype="PCM_16")
                dur = len(wav) / SAMPLE_RATE
                A, V, D = (round(3 + 2 * synth.noisy(x, rng), 4) for x in (a, v, d))
                emo = iemocap_category(a, v, rng)
                emo_lines.append(f"\n[{t:.4f} - {t + dur:.4f}]\t{utt}\t{emo}\t[{V:.4f}, {A:.4f}, {D:.4f}]\n")
                emo_lines.append(f"C-E1:\t{emo};\t()\n")
                tr_lines.append(f"{utt} [{t:08.4f}-{t + dur:08.4f}]: {text.capitalize()}.\n")
                t += dur + 0.5
                n += 1
            for sub, lines in (("EmoEvaluation", emo_lines), ("transcriptions", tr_lines)):
                (sdir / "dialog" / sub).mkdir(parents=True, exist_ok=True)
                (sdir / "dialog" / sub / f"{dialog}.txt").write_text("".join(lines))
    return n


def build_msp_podcast(out: Path, synth: DemoSynth, spks: dict[str, list[Speaker]], rng: random.Random) -> int:
    cfg, root = synth.cfg, out / "MSP-Podcast"
    for sub in ("Audios", "Labels", "Transcripts"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rows, n = [], 0
    for split, count in cfg.msp_podcast.items():
        speakers = spks[split]
        for i in tqdm(range(count), desc=f"demo MSP-Podcast/{split}", leave=False):
            spk = speakers[i % len(speakers)]
            n += 1
            utt = f"MSP-PODCAST_{int(spk.sid):04d}_{n:04d}"
            a, v, d = _latent(rng)
            text = _text_for(rng, v, cfg.text_agreement)
            sf.write(root / "Audios" / f"{utt}.wav", synth.speak(text, spk, a, v, d), SAMPLE_RATE, subtype="PCM_16")
            (root / "Transcripts" / f"{utt}.txt").write_text(text.capitalize() + ".\n")
            A, V, D = (round(4 + 3 * synth.noisy(x, rng), 4) for x in (a, v, d))
            rows.append([f"{utt}.wav", MSP_CLASS[iemocap_category(a, v, rng)], A, V, D, spk.sid,
                         "Female" if spk.gender == "F" else "Male", split])
    with open(root / "Labels" / "labels_consensus.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"])
        w.writerows(rows)
    return n


BUILDERS = {"librispeech": build_librispeech, "iemocap": build_iemocap, "msp_podcast": build_msp_podcast}
#: Where each demo corpus lands under the demo directory (the path a reader is pointed at).

README = """# sa2sr demo corpus

Generated by `dvc repro demo_data` (sa2sr_core/corpora/demo.py) from a seed; never edit by hand.

What it is: real synthesized English speech (espeak-ng, several accents and voice variants per corpus,
speaker-disjoint splits) written in the official layouts of LibriSpeech, IEMOCAP_full_release and
MSP-Podcast, so that the same readers serve the demo and the real corpora. Sentences come from a
seeded generator (several hundred words combined freely) and carry negative / neutral / positive
sentiment. In the emotional corpora activation is carried by prosody (rate, loudness, pitch range),
dominance partly, valence mostly by the words and only weakly by pitch; speakers have their own
offsets and the labels have noise.

What it is not: human speech, acted or natural emotion, or a benchmark. Numbers obtained on it show
that the pipeline works end to end; they say nothing about the paper's claims on real data.
"""


def build_demo(out: str | Path, cfg: DemoConfig, corpora: list[str]) -> dict[str, int]:
    """Write the demo corpora named in `corpora` under `out`; returns utterance counts per corpus."""
    out = Path(out)
    rng = random.Random(cfg.seed)
    synth = DemoSynth(cfg)
    pool = SpeakerPool(rng)  # one pool: no voice is shared between corpora or splits
    counts = {}
    for name in ("librispeech", "iemocap", "msp_podcast"):  # fixed order, all drawn: same seed, same voices
        speakers = draw_speakers(name, cfg, pool)
        if name in corpora:
            counts[name] = BUILDERS[name](out, synth, speakers, random.Random(f"{cfg.seed}-{name}"))
    (out / "README.md").write_text(README)
    return counts
