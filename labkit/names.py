"""Docker-style random container names ("adjective_surname"), drawn from a caller's random generator.

Lists in the spirit of moby's pkg/namesgenerator: adjectives on the left, notable scientists and engineers on
the right. The caller passes the generator (random.Random(seed) pins the names in tests and notebooks).
"""

from __future__ import annotations

import random

LEFT = (
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
    "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
    "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager",
    "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive",
    "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great",
    "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent",
    "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest",
    "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic",
    "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical", "recursing",
    "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
    "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
    "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
)

RIGHT = (
    "albattani", "allen", "almeida", "archimedes", "ardinghelli", "babbage", "banach", "bardeen", "bartik",
    "bell", "benz", "bhabha", "black", "blackwell", "bohr", "booth", "borg", "bose", "brahmagupta", "brattain",
    "brown", "carson", "cerf", "chandrasekhar", "clarke", "cohen", "curie", "darwin", "davinci", "diffie",
    "dijkstra", "dirac", "driscoll", "dubinsky", "easley", "einstein", "elgamal", "engelbart", "euclid",
    "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine",
    "goodall", "hamilton", "hawking", "heisenberg", "hellman", "hermann", "hodgkin", "hopper", "hypatia",
    "jang", "jennings", "johnson", "joliot", "kalam", "kapitsa", "keller", "kepler", "khorana", "kilby",
    "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "liskov",
    "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle",
    "minsky", "mirzakhani", "morse", "napier", "newton", "nobel", "noether", "northcutt", "noyce", "panini",
    "pare", "pascal", "pasteur", "perlman", "pike", "poincare", "ptolemy", "raman", "ramanujan", "ride",
    "ritchie", "rosalind", "sammet", "shannon", "shaw", "shockley", "sinoussi", "snyder", "spence",
    "stallman", "swanson", "swartz", "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya",
    "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
)


def random_name(rng: "random.Random | None" = None, retry: int = 0) -> str:
    """Return a name like "focused_turing"; with `retry` > 0 a digit is appended, as docker does on clashes."""
    rng = rng or random.Random()
    while True:
        name = f"{rng.choice(LEFT)}_{rng.choice(RIGHT)}"
        if name != "boring_wozniak":  # Steve Wozniak is not boring (moby's namesgenerator)
            break
    if retry > 0:
        name += str(rng.randint(0, 9))
    return name
