"""The one analysis chain: tokenize | lowercase | fold | stop | stem.

Indexing, query parsing and snippet highlighting all call :func:`analyze`, so a word is marked in
a snippet exactly when it matched. Engine-free; the Whoosh adapter lives in ``schema.py``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

from quicksearch.caches import word_cache

__all__ = [
    "STOP_WORDS",
    "TOKEN_PATTERN",
    "Token",
    "analyze",
    "normalize_word",
    "stem",
    "term_of",
    "terms",
]

# NLTK's English stop-word list (its corpus file is not shipped with the package, and nothing
# may be downloaded at run time), written out here with the apostrophes folded the way
# normalize_word folds them.
STOP_WORDS: frozenset[str] = frozenset(
    """
i me my myself we our ours ourselves you youre youve youll youd your yours yourself yourselves
he him his himself she shes her hers herself it its itself they them their theirs themselves
what which who whom this that thatll these those am is are was were be been being have has had
having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over
under again further then once here there when where why how all any both each few more most
other some such no nor not only own same so than too very s t can will just don dont should
shouldve now d ll m o re ve y ain aren arent couldn couldnt didn didnt doesn doesnt hadn hadnt
hasn hasnt haven havent isn isnt ma mightn mightnt mustn mustnt needn neednt shan shant shouldn
shouldnt wasn wasnt weren werent won wont wouldn wouldnt
""".split()
)

# Words, numbers with inner separators (3.14, 2,000) and contractions (don't, Mendel's).
TOKEN_PATTERN = r"\d+(?:[.,]\d+)+|\w+(?:['’]\w+)*"
_TOKEN = re.compile(TOKEN_PATTERN)
_MAX_TOKEN_CHARS = 40


class Token(NamedTuple):
    """An analysed word: its index term, position among kept words, and character span."""

    term: str
    pos: int
    start: int
    end: int


#: Set by quicksearch's own processes (see :func:`lean_nltk_import`).
_hide_scipy = False


def lean_nltk_import() -> None:
    """Load NLTK, when first needed, without SciPy: NLTK imports SciPy (when installed) for
    collocation statistics nothing here uses, 0.5 of its 0.7 s import. Called by the CLI and
    the build workers, processes that run only quicksearch; in them NLTK's Fisher test stays
    unavailable. A library call never does this to an app's process."""
    global _hide_scipy
    _hide_scipy = True


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    # Imported lazily: nltk costs ~0.3 s to import, which `quicksearch --help` must not pay.
    hide = _hide_scipy and "scipy" not in sys.modules and "nltk" not in sys.modules
    if hide:
        sys.modules["scipy"] = None  # type: ignore[assignment]  # `import scipy` now fails
    try:
        from nltk.stem.snowball import EnglishStemmer
    finally:
        if hide:
            del sys.modules["scipy"]
    return EnglishStemmer()


#: Stems known without running the stemmer: the words of an opened index (see
#: :func:`remember_stems`). A pure function's results, so sharing them between indexes is safe.
_known_stems: dict[str, str] = {}


def remember_stems(stems: dict[str, str], same: Iterable[str] = ()) -> None:
    """Record known stems: ``stems`` maps words to their stems, ``same`` lists words that are
    their own stem. Words seen later are stemmed by NLTK, imported on first need."""
    _known_stems.update((w, w) for w in same if w not in stems)
    _known_stems.update(stems)


def load_stemmer() -> None:
    """Import the stemmer now rather than on the first unknown word (servers warm up)."""
    _stemmer()


# Bounded by the cache budget (see quicksearch.caches): a query fills them with what visitors
# type. The words of an opened index need no entry (their stems are in _known_stems).
_stems = word_cache()
_folded = word_cache()
_normalized = word_cache()
_terms = word_cache()


def stem(word: str) -> str:
    """Snowball (Porter2) stem of a lower-case word, cached."""
    known = _known_stems.get(word)
    if known is not None:
        return known
    cached = _stems.get(word)
    return cached if cached is not None else _stems.put(word, _stemmer().stem(word))


def _fold(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_word(raw: str) -> str:
    """Lower-case, fold accents and apostrophes (stop words kept)."""
    cached = _folded.get(raw)
    if cached is not None:
        return cached
    word = raw.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return _folded.put(raw, _fold(word.replace("'", "").replace(",", "")))


def plain_words(text: str) -> list[str]:
    """Every word of ``text`` folded (stop words kept): what a stop-word query matches."""
    return [w for w in (fold_word(t) for t in _TOKEN.findall(text)) if w]


def normalize_word(raw: str) -> str:
    """Lower-case, fold accents and apostrophes; ``""`` for a stop word or an overlong token."""
    cached = _normalized.get(raw)
    if cached is not None:
        return cached
    word = fold_word(raw)
    if not word or word in STOP_WORDS or len(word) > _MAX_TOKEN_CHARS or word == "_" * len(word):
        word = ""
    return _normalized.put(raw, word)


def term_of(raw: str) -> str:
    """The index term of one raw token (as the tokenizer cut it), ``""`` if it is dropped."""
    cached = _terms.get(raw)
    if cached is not None:
        return cached
    word = normalize_word(raw)
    return _terms.put(raw, stem(word) if word else "")


def analyze(text: str, *, stemming: bool = True) -> Iterator[Token]:
    """Yield the index terms of ``text`` with positions and character offsets."""
    pos = 0
    terms_get = _terms.get
    for match in _TOKEN.finditer(text):
        raw = match.group()
        if stemming:
            term = terms_get(raw)
            if term is None:  # "" is a cached answer too (a stop word): no second look-up
                term = term_of(raw)
        else:
            term = normalize_word(raw)
        if not term:
            continue
        yield Token(term, pos, match.start(), match.end())
        pos += 1


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (duplicates kept)."""
    return [token.term for token in analyze(text)]
