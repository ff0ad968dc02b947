"""Account-holder names: does the name a merchant expects match the wallet's holder?

Providers return names as registered with KYC ("KOFI A. MENSAH", "Mensah Kofi"), so the
check ignores case, accents, punctuation and word order, and a middle name or initial the
merchant left out; it never accepts a different surname or first name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_WORD: Final = re.compile(r"[^\W\d_]+")
_MIN_WORDS: Final = 2


def name_words(name: str) -> tuple[str, ...]:
    """The name's words, lower case, without accents or punctuation."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return tuple(w.casefold() for w in _WORD.findall(plain))


def names_match(expected: str, holder: str) -> bool:
    """True if every word of `expected` is one of `holder`'s and `expected` has at least two
    words (one, if the holder's name has only one); `holder`'s other words are optional."""
    want, have = name_words(expected), name_words(holder)
    if not want or not have:
        return False
    if not set(want) <= set(have):
        return False
    return len(set(want)) >= min(_MIN_WORDS, len(set(have)))
