"""How names are compared: one normal form, and the similarity measures the duplicate check uses.

Pure functions, no database: the models keep `people.search_given` and `people.search_family`
in this normal form, and the duplicate check compares names with `jaro_winkler` (the measure
record-linkage tools use for personal names) and the trigram measures of PostgreSQL's pg_trgm
(`trigram_similarity`, `best_span_similarity`), computed the same way in Python so that both
databases accept exactly the same names.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from functools import lru_cache

# Letters NFKD does not take apart into a base letter and an accent.
_TRANSLITERATE = str.maketrans({
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "\u0131": "i",
    "ß": "ss",
})
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u02bc]")
_NOT_A_LETTER = re.compile(r"[^\w]|[\d_]")
_SPACES = re.compile(r"\s+")


# The same names come up again and again (and these are pure): remember recent answers.
@lru_cache(maxsize=32_768)
def normalise_name(raw: str | None) -> str:
    """Lower case, no accents or punctuation, single spaces: " O'Brien-Zoë" -> "obrien zoe".

    Apostrophes join (O'Brien and OBrien are one name); hyphens and other marks separate words.
    """
    if not raw:
        return ""
    text = unicodedata.normalize("NFKD", raw.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_TRANSLITERATE)
    text = _APOSTROPHES.sub("", text)
    text = _NOT_A_LETTER.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=32_768)
def name_key(raw: str | None) -> str:
    """A name part for comparison: normalised and without spaces ("Mc Donald" == "McDonald")."""
    return normalise_name(raw).replace(" ", "")


def search_name_for(*names: str | None) -> str:
    """Names normalised and joined: "given family", or "given known-as" (`search_given`)."""
    return " ".join(n for n in map(normalise_name, names) if n)


@lru_cache(maxsize=65_536)
def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity in 0..1 (1 is identical); forgiving of typos near the end.

    Jon/John 0.93, Smith/Smyth 0.89, Stephen/Steven 0.89, Jhon/John 0.93, Mary/John 0.
    """
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(0, max(len(a), len(b)) // 2 - 1)
    b_matched = [False] * len(b)
    a_chars = []
    for i, ch in enumerate(a):
        end = min(len(b), i + window + 1)
        j = b.find(ch, max(0, i - window), end)
        while j != -1 and b_matched[j]:
            j = b.find(ch, j + 1, end)
        if j != -1:
            b_matched[j] = True
            a_chars.append(ch)
    matches = len(a_chars)
    if not matches:
        return 0.0
    b_chars = [c for c, m in zip(b, b_matched, strict=True) if m]
    transpositions = sum(x != y for x, y in zip(a_chars, b_chars, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's trigrams: each word padded with two spaces before and one after."""
    found: set[str] = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        found |= _word_trigrams(word)
    return frozenset(found)


@lru_cache(maxsize=32_768)
def _word_trigrams(word: str) -> frozenset[str]:
    padded = f"  {word} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(a, b): shared trigrams over all trigrams of the two.

    Rounded to single precision as pg_trgm computes it (a float4), so that comparing it with
    a threshold gives PostgreSQL's answer even when it lands exactly on the threshold.
    """
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    return _float4(shared / (len(ta) + len(tb) - shared))


def best_span_similarity(name: str, search_name: str) -> float:
    """How well `name` matches the best run of whole words in `search_name` (0..1).

    A lower bound of pg_trgm's word_similarity(name, search_name), which also tries runs that
    start or end inside a word: so whatever passes this passes `search_name %> name`.
    """
    query = trigrams(name)
    if not query:
        return 0.0
    words = [trigrams(w) for w in search_name.split()]
    best = 0.0
    for start in range(len(words)):
        run: frozenset[str] = frozenset()
        for word in words[start:]:
            run |= word
            shared = len(query & run)
            best = max(best, shared / (len(query) + len(run) - shared))
    return _float4(best)


def _float4(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]
