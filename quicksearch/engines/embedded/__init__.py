"""The embedded engine: an index in a folder, one Whoosh index per generation plus side files.

Everything that knows Whoosh or the index folder lives here: the schema and the analysis
adapter (``schema.py``), the writer and the parallel build (``writer.py``, ``parallel.py``),
the posting side files (``postings.py``), generations and locks (``storage.py``), the posting
source the ranker reads (``segments.py``) and the engine (``engine.py``).
"""
