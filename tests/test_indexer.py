from pathlib import Path

import pytest

from quicksearch import Document, InvalidSourceError, build_index, open_index

from .conftest import FIXTURES, make_docs, write_page


def test_build_from_folder_counts_and_excludes(pages_dir: Path, tmp_path: Path) -> None:
    report = build_index(pages_dir, tmp_path / "ix", jobs=1)
    assert report.indexed == 7
    assert report.excluded == 1  # the no_index draft
    assert report.skipped == ()
    with open_index(tmp_path / "ix") as ix:
        assert ix.stats().documents == 7


def test_duplicate_ids_with_distinct_urls_are_both_indexed(built_index: Path) -> None:
    # regulated-exocytosis.md and mitochondria-same-id.md share id 501
    with open_index(built_index) as ix:
        assert ix.search("exocytosis").hits[0].url.endswith("what-triggers-regulated-exocytosis")
        assert ix.search("mitochondria").hits[0].url.endswith("role-of-mitochondria")


def test_duplicate_url_keeps_first_file_and_reports_the_other(
    pages_dir: Path, tmp_path: Path
) -> None:
    write_page(
        pages_dir / "zz",
        "copy.md",
        url="/learn/chemistry/questions/buffer-solutions",
        question="A copy with the same url?",
        answer="Copy.",
    )
    report = build_index(pages_dir, tmp_path / "ix", jobs=1)
    assert report.indexed == 7
    [skipped] = report.skipped
    assert skipped.path.endswith("copy.md") and "duplicate url" in skipped.reason


def test_bad_files_are_skipped_and_good_pages_kept(pages_dir: Path, tmp_path: Path) -> None:
    (pages_dir / "empty.md").write_text("")
    (pages_dir / "broken.md").write_text("---\nquestion: [oops\n---\n")
    (pages_dir / "binary.md").write_bytes(b"\x00\x01\x02")
    (pages_dir / "latin1.md").write_bytes(b"---\nquestion: caf\xe9\n---\n")
    (pages_dir / "list.md").write_text("---\n- 1\n---\n")
    write_page(pages_dir, "noanswer.md", url="/x", question="No answer?", answer="")
    report = build_index(pages_dir, tmp_path / "ix", jobs=1)
    assert report.indexed == 7
    assert len(report.skipped) == 6
    assert all(s.reason for s in report.skipped)


def _mixed_folder(root: Path) -> Path:
    """260 pages in 4 subjects, with the awkward cases spread over the chunks that the
    workers of a parallel build get: repeated urls, no_index pages and broken files."""
    src = root / "src"
    subjects = ["Physics", "Chemistry", "Biology", "History"]
    for i in range(260):
        url = f"/p/{i}"
        if i in (150, 251):
            url = "/p/7"  # later pages repeating an earlier page's url
        write_page(
            src,
            f"{subjects[i % 4].lower()}/p{i:03d}.md",
            url=url,
            question=f"Question {i} about {'lanterns' if i % 3 else 'lamps'}?",
            answer=f"Answer number {i}: lanterns glow, lamps shine, wicks burn {i % 7} hours.",
            subject=subjects[i % 4],
            page_id=i,
            extra="no_index: true\n" if i in (3, 199) else "",
        )
    (src / "physics" / "p098-broken.md").write_text("---\nquestion: [unclosed\n---\n")
    return src


@pytest.mark.parametrize("segment_docs", [25_000, 37], ids=["one-segment-each", "many-segments"])
def test_parallel_build_equals_one_process_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment_docs: int
) -> None:
    import json

    from quicksearch.engines.embedded import parallel as parallel_module
    from quicksearch.engines.embedded.storage import current_generation

    # Workers write a new segment every segment_docs pages (bounded memory on large corpora).
    monkeypatch.setattr(parallel_module, "SEGMENT_DOCS", segment_docs)
    src = _mixed_folder(tmp_path)
    serial = build_index(src, tmp_path / "one", jobs=1)
    parallel = build_index(src, tmp_path / "two", jobs=2)
    build_index(src, tmp_path / "three", jobs=2)
    assert parallel.indexed == serial.indexed == 260 - 2 - 2
    assert len(parallel.skipped) == 3
    assert parallel.excluded == serial.excluded == 2
    assert parallel.skipped == serial.skipped
    reasons = [s.reason.split(" (")[0] for s in parallel.skipped]
    assert reasons.count("duplicate url /p/7") == 2

    def vocabulary(index: Path) -> dict:
        path = current_generation(index).path / "vocabulary.json"
        return json.loads(path.read_text())

    assert vocabulary(tmp_path / "two") == vocabulary(tmp_path / "one")
    queries = ["lanterns", "lamps wicks", "question 7", "glow subject:physics", '"wicks burn"']
    with (
        open_index(tmp_path / "one") as one,
        open_index(tmp_path / "two") as two,
        open_index(tmp_path / "three") as three,
    ):
        assert two.stats().documents == one.stats().documents
        for q in queries:
            a, b, c = (ix.search(q, limit=300) for ix in (one, two, three))
            assert a.total == b.total and a.facets == b.facets, q
            assert sorted(h.url for h in a.hits) == sorted(h.url for h in b.hits), q
            # Equal up to the byte-quantised lengths of the deleted duplicates.
            scores = {h.url: h.score for h in a.hits}
            assert all(h.score == pytest.approx(scores[h.url], rel=1e-3) for h in b.hits), q
            # Two parallel builds of one folder rank equal scores in the same order.
            assert [h.url for h in b.hits] == [h.url for h in c.hits], q
        # The page that keeps the repeated url is the first in key order (biology/p150.md).
        assert [h.url for h in two.search('"number 150"').hits] == ["/p/7"]
        assert two.search('"number 7"').total == two.search('"number 251"').total == 0


def test_build_from_documents_and_rebuild_replaces(tmp_path: Path) -> None:
    build_index(make_docs(5), tmp_path / "ix")
    report = build_index(
        [Document(url="/only", question="Kettle?", answer="Boils water.")],
        tmp_path / "ix",
        force=True,
    )
    assert report.indexed == 1
    with open_index(tmp_path / "ix") as ix:
        assert ix.stats().documents == 1
        assert ix.search("pendulum").total == 0


def test_invalid_sources(tmp_path: Path) -> None:
    with pytest.raises(InvalidSourceError):
        build_index(tmp_path / "missing", tmp_path / "ix")
    with pytest.raises(InvalidSourceError):
        build_index(42, tmp_path / "ix")  # type: ignore[arg-type]
    with pytest.raises(InvalidSourceError):
        build_index(["not a document"], tmp_path / "ix")  # type: ignore[list-item]


def test_failed_build_leaves_previous_index_serving(tmp_path: Path) -> None:
    build_index(make_docs(3), tmp_path / "ix")

    def exploding():
        yield from make_docs(2)
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError):
        build_index(exploding(), tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        assert ix.stats().documents == 3
    assert not [p for p in (tmp_path / "ix").iterdir() if p.name.startswith(".tmp-")]


def test_progress_callback_reaches_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    build_index(make_docs(4), tmp_path / "ix", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (4, 4)


def test_parallel_build_from_a_script_without_main_guard(tmp_path: Path) -> None:
    import subprocess
    import sys

    for i in range(220):
        write_page(
            tmp_path / "src",
            f"p{i}.md",
            url=f"/p/{i}",
            question=f"Question {i}?",
            answer="About lanterns.",
            page_id=i,
        )
    script = (
        f"import quicksearch\n"
        f"r = quicksearch.build_index({str(tmp_path / 'src')!r}, {str(tmp_path / 'ix')!r}, "
        f"jobs=2)\nprint(r.documents)\n"
    )
    out = subprocess.run(
        [sys.executable, "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "220"


def test_quick_writer_writes_what_whoosh_writes(tmp_path: Path) -> None:
    # QuickWriter replaces Whoosh's posting pool, add_document and posting-block writing;
    # the index it writes must read back exactly like one from Whoosh's own writer.
    from whoosh import index as whoosh_index

    from quicksearch.engines.embedded.parallel import QuickWriter
    from quicksearch.engines.embedded.schema import document_fields, make_schema

    long_doc = Document(url="/x", question="Keys and keys", answer="A key. " * 700, keywords="k")
    docs = [*make_docs(300), long_doc]  # postings over several blocks, and one long list
    readers = []
    for name, make in (("whoosh", lambda ix: ix.writer()), ("quick", QuickWriter)):
        (tmp_path / name).mkdir()
        ix = whoosh_index.create_in(str(tmp_path / name), make_schema())
        writer = make(ix)
        for doc in docs:
            writer.add_document(**document_fields(doc))
        writer.commit()
        readers.append(whoosh_index.open_dir(str(tmp_path / name)).reader())
    ours, theirs = readers[1], readers[0]
    assert list(ours.all_terms()) == list(theirs.all_terms())
    for field, term in theirs.all_terms():
        kind = "positions" if theirs.schema[field].format.supports("positions") else "weight"
        a, b = ours.postings(field, term), theirs.postings(field, term)
        assert list(a.items_as(kind)) == list(b.items_as(kind)), (field, term)
        assert ours.doc_frequency(field, term) == theirs.doc_frequency(field, term)
        mine, whooshs = ours.term_info(field, term), theirs.term_info(field, term)
        for stat in ("weight", "doc_frequency", "min_length", "max_length", "max_weight"):
            assert getattr(mine, stat)() == getattr(whooshs, stat)(), (field, term, stat)
        assert (mine.min_id(), mine.max_id()) == (whooshs.min_id(), whooshs.max_id())
    for field in ("question", "answer", "keywords"):
        assert ours.field_length(field) == theirs.field_length(field)
        assert [ours.doc_field_length(d, field) for d in range(len(docs))] == [
            theirs.doc_field_length(d, field) for d in range(len(docs))
        ]
    assert list(ours.all_stored_fields()) == list(theirs.all_stored_fields())
    # The ranker reads postings itself, from blocks or from the term record of a rare term.
    from quicksearch.config import DEFAULT_SETTINGS
    from quicksearch.engines.embedded.segments import IndexPostings
    from quicksearch.ranking import Ranker

    ours_ranker = Ranker(IndexPostings(ours), DEFAULT_SETTINGS)
    theirs_ranker = Ranker(IndexPostings(theirs), DEFAULT_SETTINGS)
    for field, term in theirs.all_terms():
        if field in ("question", "answer", "keywords", "question_exact"):
            a = ours_ranker.postings(field, term.decode())
            b = theirs_ranker.postings(field, term.decode())
            assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()


def test_an_index_that_names_the_schema_by_its_old_module_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes built before the embedded engine had its own package pickled their schema as
    "quicksearch.schema.FastText" and friends: they open without a rebuild."""
    import pickle

    from quicksearch.engines.embedded import schema

    with monkeypatch.context() as patch:  # build as the old layout did: the old module name
        pickled = ("QuickAnalyzer", "ExactWordsAnalyzer", "FastText", "FastExactWords", "KeyColumn")
        for name in pickled:
            patch.setattr(getattr(schema, name), "__module__", "quicksearch.schema")
        build_index(FIXTURES / "pages", tmp_path / "ix", jobs=1)
    toc = next((tmp_path / "ix").glob("gen-*/_MAIN_*.toc")).read_bytes()
    assert b"quicksearch.schema" in toc and b"quicksearch.engines.embedded.schema" not in toc
    with open_index(tmp_path / "ix") as ix:
        assert ix.search("exocytosis").total >= 1
    assert pickle.loads(b"cquicksearch.schema\nFastText\n.") is schema.FastText
