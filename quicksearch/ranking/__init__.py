"""Ranking, engine-free: BM25F scoring with work in proportion to the answer, not the corpus.

Both engines rank with the same :class:`Ranker` over a :class:`PostingSource` of their own
(the embedded engine's reads an index generation's side files; the cluster's, a query's
candidates). The parts, each its own module:

- ``source``: what a ranker reads (:class:`PostingSource`) and the posting cache;
- ``scoring``: the scoring model (what a page scores: BM25F, field boosts, bonuses);
- ``evaluation``: the :class:`Ranker`, which decides which pages get scored (all words,
  pruning, MaxScore, exact totals);
- ``pages``: collapsing repeated questions, totals, subject facets and one window.
"""

from quicksearch.ranking.evaluation import Ranker
from quicksearch.ranking.pages import Ranked
from quicksearch.ranking.source import Postings, PostingSource

__all__ = ["PostingSource", "Postings", "Ranked", "Ranker"]
