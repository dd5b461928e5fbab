"""Tunable settings with sensible defaults, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass

#: Bumped whenever the on-disk schema or analysis changes; an index with another version
#: must be rebuilt (``open_index`` says so instead of returning wrong results).
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class Settings:
    """Ranking and resource limits shared by the indexer and the searcher."""

    #: Query-time weight of each text field (BM25F scores are multiplied by these).
    question_boost: float = 6.0
    keywords_boost: float = 0.5
    answer_boost: float = 1.0
    #: Bonuses for a query word written exactly as in the question, and for two query words
    #: standing next to each other in it (relative to the question's own weight; the latter
    #: re-ranks the first 50 results, read from their stored questions).
    exact_boost: float = 0.5
    pairs_boost: float = 0.1
    #: Added to the score of pages whose question holds every word of the query.
    question_cover_bonus: float = 10.0
    #: Added, among the first 50 results, to pages whose question holds the query's words in
    #: the order they were typed (with any words between).
    question_order_bonus: float = 15.0
    #: In queries of five or more words, scores are multiplied by the share of the query a
    #: page matches (each word weighted by its idf) to this power (0 turns it off); shorter
    #: queries rank by matched words first.
    coordination: float = 0.4
    #: Pages with only some of the query's words join the results (after those with every
    #: word, for short queries) when fewer than this many pages have every word. A fixed
    #: number, not the page size asked for, so a query's results (order, total, facets) are
    #: the same whatever ``limit`` and ``page`` cut out of them. 0 never adds them; a large
    #: number always does.
    partial_match_threshold: int = 10
    #: Queries of more words than this (a pasted question or description) are scored as plain
    #: BM25 over the fields: equal field weights (unless the query passes boosts), no question
    #: bonuses, question_b = bm25_b, a word written n times weighs n times, and quoted or
    #: hyphenated groups count as separate words rather than phrases. Those signals help a few
    #: typed words find a page's title; on long queries they cost accuracy (measured on
    #: ../shared/beir). 0 turns this off.
    long_query_words: int = 4
    #: BM25 parameters; ``question_b`` is lower because questions are short and similar in length.
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    question_b: float = 0.5
    #: Pages larger than this are skipped and reported (the real corpus tops out near 8 KB).
    max_file_bytes: int = 1_000_000
    #: Read a page that is a symbolic link to a file outside the source folder (by default such
    #: a page is skipped with a reason: a link must not publish a private file from elsewhere).
    follow_symlinks: bool = False
    #: User input beyond these bounds is ignored rather than rejected, to keep queries fast.
    max_query_chars: int = 1_000
    max_query_terms: int = 32
    #: Memory for the caches that queries fill (posting lists, counts, the analysis chain's
    #: words), in bytes, per process. Junk traffic cannot grow a process past it.
    cache_bytes: int = 64 * 2**20
    #: Largest page size an app may ask for.
    max_limit: int = 1_000
    #: Markup put around matched words in ``Hit.snippet`` and ``Hit.title_html`` (inserted as
    #: is, so it must be trusted HTML; all other text is escaped).
    highlight_tags: tuple[str, str] = ("<mark>", "</mark>")
    #: A snippet grows by whole sentences towards the target length, never past the maximum.
    snippet_target_chars: int = 200
    snippet_max_chars: int = 300
    #: Groups of equivalent words (see :func:`quicksearch.load_synonyms`).
    synonyms: tuple[tuple[str, ...], ...] = ()

    @property
    def field_boosts(self) -> dict[str, float]:
        return {
            "question": self.question_boost,
            "keywords": self.keywords_boost,
            "answer": self.answer_boost,
        }


DEFAULT_SETTINGS = Settings()
