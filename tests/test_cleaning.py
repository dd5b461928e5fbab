import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quicksearch.cleaning import canonical_subject, clean_answer, clean_text, latex_to_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"First line.\n\nSecond line.", "First line.\n\nSecond line."),
        (r"### Heading\n\nBody", "Heading\n\nBody"),
        (r"Some **bold** and *italic* and __strong__ text", "Some bold and italic and strong text"),
        (r"1. **Income**: the total\n2. Costs", "Income: the total\nCosts"),
        (r"- item one\n- item two", "item one\nitem two"),
        (r"See [the docs](https://example.com/x) now", "See the docs now"),
        (r"> quoted words", "quoted words"),
        (r"Fish &amp; chips &lt;b&gt; caf&eacute;", "Fish & chips <b> café"),
        (r"Use `print()` here", "Use print() here"),
    ],
)
def test_markdown_and_newlines(raw: str, expected: str) -> None:
    assert clean_answer(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"$\text{Ca}^{2+}$", "Ca2+"),
        (r"$\frac{a}{b}$", "a/b"),
        (r"$\frac{a+b}{c}$", "(a+b)/c"),
        (r"$\sqrt{x}$", "√x"),
        (r"$\Delta H < 0$", "Δ H < 0"),
        (r"$ \Delta G^\circ $", "Δ G°"),  # the corpus's spaced inline math
        (r"\(x \times y\)", "x × y"),
        (r"$$\nI = \frac{Q}{t}\n$$", "I = Q/t"),
    ],
)
def test_latex_becomes_readable_text(raw: str, expected: str) -> None:
    assert clean_answer(raw) == expected


def test_backslash_n_before_latex_command_is_the_command_in_math() -> None:
    assert clean_answer(r"$\nabla \cdot E \neq 0$") == "∇ · E ≠ 0"
    # ...but outside math, \n is always a line break
    assert clean_answer(r"One\nnext") == "One\nnext"
    assert latex_to_text(r"a \\\nb") == "a\nb"


def test_prices_are_not_math() -> None:
    text = r"It costs $5 and $10 in total, or $2,000 for the lot."
    assert clean_answer(text) == "It costs $5 and $10 in total, or $2,000 for the lot."


def test_code_fence_keeps_code_text_verbatim() -> None:
    raw = r"Example:\n\n```html\n<div class=\"a\">*not italic* # not heading</div>\n```\n\nDone."
    cleaned = clean_answer(raw)
    assert '<div class="a">*not italic* # not heading</div>' in cleaned
    assert "```" not in cleaned and "html\n" not in cleaned
    assert cleaned.endswith("Done.")


def test_clean_text_is_one_line() -> None:
    assert clean_text("  What is\\n**this**?  ") == "What is this?"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Computer science", "Computer Science"),
        ("computer-science", "Computer Science"),
        ("Education studies", "Education Studies"),
        ("History of the World", "History of the World"),
        ("history OF the world", "History of the World"),
        ("bachelor of laws", "Bachelor of Laws"),
        ("  Physics ", "Physics"),
        ("", ""),
    ],
)
def test_canonical_subject(raw: str, expected: str) -> None:
    assert canonical_subject(raw) == expected


@given(st.text(max_size=400))
def test_clean_answer_never_raises_and_leaves_no_literal_newlines(raw: str) -> None:
    cleaned = clean_answer(raw)
    assert isinstance(cleaned, str)
    assert "\ue000" not in cleaned  # no placeholder leaks out


@given(st.text(alphabet=st.sampled_from(list("ab $\\{}^_nfrac`*#\n")), max_size=200))
def test_clean_answer_never_raises_on_latex_like_soup(raw: str) -> None:
    assert isinstance(clean_answer(raw), str)


@settings(max_examples=300)
@given(st.text(alphabet="ab1é_ ,.'’?:;/%-*#&$\\`[]()<>!|~+=\n\t", max_size=40))
def test_one_line_fast_path_agrees_with_the_rules(raw: str) -> None:
    # Plain lines skip the cleaning rules; whatever the input, the result must be the rules'.
    expected = re.sub(r"\s+", " ", clean_answer(raw)).strip()
    assert clean_text(raw) == expected
