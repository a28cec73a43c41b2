"""The lexicon decoder of the asr text route: a word bigram LM of transcripts, and CTC posteriors turned into
lexicon words by their CTC score and the LM."""

import math

import pytest
import torch

from sa2sr_core.models.word_decoder import EOS, LexiconDecoder, WordLM, WordLMError, word_segments
from sa2sr_core.names import CHARS

TEXTS = ["the happy dog ran home", "the sad dog sat down", "a happy day", "THE HAPPY CAT", "the happy, end.", None, ""]


def posteriors(spelling: str, frames_per_char: int = 2, confident: float = 4.0, blur: dict | None = None):
    """(T', 29) log-probabilities whose best path spells `spelling` (a blank after each character); `blur`
    {position: (other char, margin)} gives that position a second character only `margin` nats behind."""
    rows = []
    for i, ch in enumerate(spelling):
        for _ in range(frames_per_char - 1):
            z = torch.zeros(len(CHARS))
            z[CHARS.index(ch)] = confident
            if blur and i in blur:
                other, margin = blur[i]
                z[CHARS.index(other)] = confident - margin
            rows.append(z)
        z = torch.zeros(len(CHARS))
        z[0] = confident  # blank
        rows.append(z)
    return torch.log_softmax(torch.stack(rows), -1)


def test_the_lm_counts_normalised_transcripts_and_sums_to_one_with_the_unseen_word():
    lm = WordLM.from_transcripts(TEXTS)
    assert lm.unigrams["happy"] == 3 and lm.bigrams[("<s>", "the")] == 3 and lm.bigrams[("cat", EOS)] == 1
    assert "THE" not in lm.unigrams and "end" not in lm.unigrams  # as pre-training reads them: lower case, and a
    # transcript with characters outside the 29 symbols skipped, as pre-training skips it
    for prev in ("the", "happy", "<s>", "never-seen"):
        total = sum(math.exp(lm.logp(prev, w)) for w in lm.unigrams)
        unseen = math.exp(lm.logp(prev, "zebra"))  # the one unknown word's share
        assert total + unseen == pytest.approx(1.0)
    assert lm.logp("the", "happy") > lm.logp("the", "sad") > lm.logp("the", "ran")
    with pytest.raises(WordLMError, match="no transcript"):
        WordLM.from_transcripts([None, "", "   "])


def test_the_lm_round_trips_through_its_file_and_a_missing_one_is_named(tmp_path):
    lm = WordLM.from_transcripts(TEXTS, alpha=0.3)
    lm.save(tmp_path / "lm.parquet")
    back = WordLM.load(tmp_path / "lm.parquet")
    assert back.unigrams == lm.unigrams and back.bigrams == lm.bigrams and back.alpha == 0.3
    assert back.logp("the", "dog") == lm.logp("the", "dog")
    with pytest.raises(WordLMError, match="nowhere/word_lm.parquet is missing"):
        WordLM.load(tmp_path / "nowhere" / "word_lm.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(WordLMError, match="bad.parquet cannot be read as a word LM"):
        WordLM.load(tmp_path / "bad.parquet")


def test_segments_follow_the_greedy_paths_spaces():
    lp = posteriors("the hapy dog")
    assert [g for _, _, g in word_segments(lp)] == ["the", "hapy", "dog"]
    assert word_segments(posteriors(" ")) == []


def test_a_misspelt_word_becomes_the_lexicon_word_its_frames_support():
    lm = WordLM.from_transcripts(TEXTS)
    dec = LexiconDecoder(lm, lm_weight=1.0)
    # greedy reads "hapy"; the frames also carry a second p (the missing letter is one blank away)
    lp = posteriors("the hapy dog", blur={5: ("p", 1.0)})
    assert "".join(CHARS[i] for i in lp.argmax(-1).tolist() if i) .split() == ["the", "hapy", "dog"]
    assert dec.decode(lp) == "the happy dog"
    assert dec.decode(posteriors("   ")) == ""  # no word: no text


def test_the_word_lm_settles_what_the_sound_leaves_open():
    # "sad" and "had" equally likely from the frames ("had" is not in the lexicon; "sat" and "sad" are):
    # after "the", the LM prefers the word it saw there
    lm = WordLM.from_transcripts(["the sad dog", "the sad cat", "we sat down", "we sat here", "we sat still"])
    lp = posteriors("the sat dog", blur={6: ("d", 0.0)})
    assert LexiconDecoder(lm, lm_weight=0.0).decode(lp) in ("the sat dog", "the sad dog")
    assert LexiconDecoder(lm, lm_weight=1.0).decode(lp) == "the sad dog"
    lp = posteriors("we sad down", blur={5: ("t", 0.0)})
    assert LexiconDecoder(lm, lm_weight=1.0).decode(lp) == "we sat down"


def test_the_vocabulary_is_closed_but_a_word_no_lexicon_word_fits_stays():
    lm = WordLM.from_transcripts(["a happy day"])
    dec = LexiconDecoder(lm, lm_weight=1.0)
    assert dec.decode(posteriors("a hoppy day")) == "a happy day"  # snapped, not kept as heard
    # one frame per character and no blanks: "x" has one frame, and no lexicon word is that short
    lp = torch.log_softmax(torch.stack([torch.eye(len(CHARS))[CHARS.index(c)] * 6 for c in "x dai"]), -1)
    assert LexiconDecoder(WordLM.from_transcripts(["happy day"])).decode(lp) == "x day"
    batch = torch.stack([posteriors("a hoppy day"), posteriors("a hoppy day")])
    assert dec.decode_batch(batch, torch.tensor([batch.shape[1], 3])) == ["a happy day", "a"]


def test_the_decoder_params_are_checked_and_recorded():
    from sa2sr_core.config.text import text_config
    from sa2sr_core.errors import Sa2srError

    cfg = text_config({"finetune": {"text": {"source": "asr"}}})
    assert cfg.lexicon and cfg.decoder_info() == {"kind": "lexicon", "lm_weight": 1.0, "nearest": 64, "beam": 16}
    assert not text_config({"finetune": {"text": {"source": "gold"}}}).lexicon  # only the asr source decodes
    assert text_config({"finetune": {"text": {"source": "asr", "decoder": "greedy"}}}).decoder_info() == {
        "kind": "greedy"}
    for bad, said in (({"decoder": "beam"}, "decoder must be one of"), ({"nearest": 0}, "nearest >= 1"),
                      ({"lm_weight": -1.0}, "lm_weight >= 0")):
        with pytest.raises(Sa2srError, match=said):
            text_config({"finetune": {"text": {"source": "asr", **bad}}})
