"""A seeded English sentence generator for the demo corpus, with a chosen sentiment.

The vocabulary (several hundred words, combined freely) is large enough that an ASR model has to
learn spelling rather than memorise sentences. Sentiment is carried by lexical choices (verbs,
adjectives, closing clauses) with a strength 1-3, so a text sentiment model has something to find.
"""

from __future__ import annotations

import random

from sa2sr_core.names import SENTIMENT_CLASSES

NAMES = """anna ben carla david elena frank grace henry irene jack karen leo maria nathan olivia peter
rachel simon tina victor walter yvonne zachary hannah oscar laura martin nora paul sophie thomas
ursula vincent wendy albert bella charles diana edward fiona george helen isaac julia kevin lucy""".split()
NOUNS = """garden kitchen window bicycle letter market river village doctor teacher farmer neighbour
painting concert museum library station harbour bridge mountain forest island valley meadow
castle cottage tower theatre bakery hospital school office factory airport motorway lighthouse
orchard vineyard stable kettle blanket candle mirror ladder basket bucket hammer pencil notebook
camera guitar piano violin trumpet umbrella jacket sweater scarf glove boot wallet ticket parcel
journey holiday weekend birthday wedding meeting lesson project report budget contract proposal
recipe dinner breakfast picnic festival parade carnival exhibition harvest voyage expedition
puppy kitten horse rabbit pigeon dolphin tortoise squirrel hedgehog butterfly""".split()
PLACES = """near the old harbour|behind the village church|at the edge of the forest|in the busy market square
|on the northern coast|by the quiet river|at the train station|in the school library|on the top floor
|under the stone bridge|beside the lighthouse|in the small cottage|across the meadow|inside the museum
|at the corner bakery|along the motorway|in the hospital garden|near the airport|on the island ferry
|behind the factory gates""".replace("\n", "").split("|")
TIMES = """this morning|last night|yesterday afternoon|on monday|every winter|after lunch|before dawn
|during the storm|at midnight|last summer|this weekend|in october|on friday evening|after the meeting
|before the holiday""".replace("\n", "").split("|")
NEUTRAL_ADJ = """wooden yellow heavy narrow square northern second plastic painted folded metal copper
green purple grey silver tall short round empty crowded distant ordinary usual regular weekly""".split()
NEUTRAL_VERBS = """carried moved opened checked measured counted painted described delivered collected
repaired visited noticed ordered returned borrowed packed unpacked photographed recorded""".split()
NEUTRAL_TAILS = """and then went home|before writing the report|as planned on the calendar|and closed the door
|while the radio played|and put it on the table|for the second time|without saying much|and wrote it down
|as the clock struck nine""".replace("\n", "").split("|")
POSITIVE = {
    1: ("""nice pleasant fine friendly good decent helpful""".split(),
        """liked enjoyed appreciated welcomed""".split(),
        """and it felt nice|and everyone smiled|which was pleasant""".split("|")),
    2: ("""happy lovely beautiful great cheerful delightful charming kind""".split(),
        """loved admired praised celebrated""".split(),
        """and we were so happy|and it was a lovely day|what a great success""".split("|")),
    3: ("""wonderful brilliant amazing excellent fantastic marvellous superb""".split(),
        """adored cherished treasured""".split(),
        """it was the best day ever and we loved it|what a wonderful and amazing surprise|we were thrilled and grateful"""
        .split("|")),
}
NEGATIVE = {
    1: ("""dull boring messy late cold poor""".split(),
        """disliked doubted ignored missed""".split(),
        """and it was a bit sad|which was not good|and nobody cared""".split("|")),
    2: ("""sad ugly broken dirty angry unhappy wrong""".split(),
        """hated blamed feared lost""".split(),
        """and we were upset and angry|what a sad mess it was|it was a painful failure""".split("|")),
    3: ("""terrible awful horrible disgusting miserable tragic dreadful""".split(),
        """destroyed ruined despised abandoned""".split(),
        """it was the worst day and we hated it|what a terrible and awful disaster|we were furious and miserable"""
        .split("|")),
}


def vocabulary() -> set[str]:
    """Every word the generator can produce."""
    words = set(NAMES) | set(NOUNS) | set(NEUTRAL_ADJ) | set(NEUTRAL_VERBS)
    for phrase_list in (PLACES, TIMES, NEUTRAL_TAILS):
        for p in phrase_list:
            words |= set(p.split())
    for table in (POSITIVE, NEGATIVE):
        for adjs, verbs, tails in table.values():
            words |= set(adjs) | set(verbs)
            for t in tails:
                words |= set(t.split())
    return words | {"the", "a", "and", "was", "very", "really"}


def make_sentence(rng: random.Random, sentiment: str, strength: int = 2) -> str:
    """One sentence (lower case, no punctuation) expressing `sentiment` with `strength` in 1..3."""
    if sentiment not in SENTIMENT_CLASSES:
        raise ValueError(f"sentiment must be one of {SENTIMENT_CLASSES}, got {sentiment!r}")
    name, noun = rng.choice(NAMES), rng.choice(NOUNS)
    place, time = rng.choice(PLACES), rng.choice(TIMES)
    if sentiment == "neutral":
        adj, verb, tail = rng.choice(NEUTRAL_ADJ), rng.choice(NEUTRAL_VERBS), rng.choice(NEUTRAL_TAILS)
    else:
        adjs, verbs, tails = (POSITIVE if sentiment == "positive" else NEGATIVE)[max(1, min(3, strength))]
        adj, verb, tail = rng.choice(adjs), rng.choice(verbs), rng.choice(tails)
    shape = rng.randrange(4)
    if shape == 0:
        words = [name, verb, "the", adj, noun, place, time]
    elif shape == 1:
        words = [time, name, verb, "the", adj, noun, tail]
    elif shape == 2:
        words = ["the", noun, place, "was", "really" if sentiment != "neutral" else "very", adj, tail]
    else:
        words = [name, "and", rng.choice(NAMES), verb, "the", noun, place, tail]
    return " ".join(words)
