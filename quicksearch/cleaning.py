"""Turn a page's raw answer (literal ``\\n``, markdown, LaTeX, entities) into readable plain text.

The corpus stores answers as one YAML scalar in which line breaks are the two characters
backslash and ``n``. That collides with LaTeX commands such as ``\\nabla`` or ``\\neq``, and
``$`` is both a math delimiter and a currency sign (``$2,000``), so the work is done in order:

1. code (fenced and inline) is cut out first and kept verbatim;
2. math (``$$..$$``, ``\\[..\\]``, ``\\(..\\)``, ``$..$`` by pandoc's rules) is converted to text,
   where ``\\n`` is a newline unless it starts a known LaTeX command;
3. the remaining text has ``\\n`` decoded and markdown syntax removed (its words kept);
4. the pieces are put back, entities decoded and whitespace tidied.

Everything here is pure and engine-free, so it is cheap to test.
"""

from __future__ import annotations

import html
import re

__all__ = ["canonical_subject", "clean_answer", "clean_text", "latex_to_text"]

# ---------------------------------------------------------------------------------------------
# subjects

_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
)


def canonical_subject(subject: str) -> str:
    """Normalise a subject's spelling: ``"computer science"`` → ``"Computer Science"``.

    Words are capitalised except short joining words after the first; slugs
    (``computer-science``) and stray whitespace are accepted; acronyms stay upper case.
    """
    if subject.isupper():
        subject = subject.lower()  # "CHEMISTRY" is shouting, not an acronym
    words = re.split(r"[\s_-]+", subject.strip())
    out = []
    for i, word in enumerate(w for w in words if w):
        if i > 0 and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        elif len(word) > 1 and word.isupper():
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:].lower())
    return " ".join(out)


# ---------------------------------------------------------------------------------------------
# LaTeX

# LaTeX commands whose names start with "n": inside math, "\neq" is a command, not "\n" + "eq".
_N_COMMANDS = frozenset(
    {
        "nabla",
        "ne",
        "neq",
        "neg",
        "nu",
        "not",
        "notin",
        "ni",
        "nmid",
        "nleq",
        "ngeq",
        "nless",
        "ngtr",
        "nsubseteq",
        "nsupseteq",
        "nparallel",
        "nexists",
        "newline",
        "nonumber",
        "nolimits",
        "normalsize",
        "natural",
        "nearrow",
        "nwarrow",
        "nrightarrow",
        "nleftarrow",
        "nRightarrow",
        "nLeftarrow",
        "nvdash",
        "neql",
        "nsim",
        "ncong",
        "nprec",
        "nsucc",
        "nsubset",
        "nsupset",
    }
)

_SYMBOLS = {
    # Greek
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "vartheta": "θ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "varpi": "π",
    "rho": "ρ",
    "varrho": "ρ",
    "sigma": "σ",
    "varsigma": "ς",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Xi": "Ξ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Upsilon": "Υ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    # operators and relations
    "times": "×",
    "cdot": "·",
    "div": "÷",
    "pm": "±",
    "mp": "∓",
    "ast": "*",
    "star": "*",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "equiv": "≡",
    "sim": "~",
    "simeq": "≃",
    "cong": "≅",
    "propto": "∝",
    "ll": "≪",
    "gg": "≫",
    "to": "→",
    "rightarrow": "→",
    "longrightarrow": "→",
    "Rightarrow": "⇒",
    "implies": "⇒",
    "Longrightarrow": "⇒",
    "leftarrow": "←",
    "longleftarrow": "←",
    "Leftarrow": "⇐",
    "leftrightarrow": "↔",
    "Leftrightarrow": "⇔",
    "iff": "⇔",
    "rightleftharpoons": "⇌",
    "uparrow": "↑",
    "downarrow": "↓",
    "mapsto": "↦",
    "infty": "∞",
    "sum": "Σ",
    "prod": "∏",
    "int": "∫",
    "iint": "∬",
    "oint": "∮",
    "partial": "∂",
    "nabla": "∇",
    "circ": "°",
    "degree": "°",
    "ldots": "…",
    "dots": "…",
    "cdots": "…",
    "vdots": "⋮",
    "ddots": "⋱",
    "in": "∈",
    "notin": "∉",
    "ni": "∋",
    "subset": "⊂",
    "subseteq": "⊆",
    "supset": "⊃",
    "supseteq": "⊇",
    "cup": "∪",
    "cap": "∩",
    "setminus": "∖",
    "emptyset": "∅",
    "varnothing": "∅",
    "forall": "∀",
    "exists": "∃",
    "neg": "¬",
    "lnot": "¬",
    "land": "∧",
    "wedge": "∧",
    "lor": "∨",
    "vee": "∨",
    "oplus": "⊕",
    "otimes": "⊗",
    "angle": "∠",
    "perp": "⊥",
    "parallel": "∥",
    "prime": "′",
    "mid": "|",
    "langle": "⟨",
    "rangle": "⟩",
    "therefore": "∴",
    "because": "∵",
    "hbar": "ħ",
    "ell": "ℓ",
    "Re": "ℜ",
    "Im": "ℑ",
    "aleph": "ℵ",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "lceil": "⌈",
    "rceil": "⌉",
    "triangle": "△",
    "square": "□",
    "checkmark": "✓",
    "dagger": "†",
    "bullet": "•",
    "vert": "|",
    "Vert": "‖",
    "lvert": "|",
    "rvert": "|",
    "percent": "%",
    "backslash": "\\",
    "quad": " ",
    "qquad": " ",
    "newline": "\n",
    "cr": "\n",
    "hline": "",
    "not": "not ",
}

# Commands whose braced argument is kept as text (fonts, accents, boxes).
_KEEP_ARG = frozenset(
    {
        "text",
        "textbf",
        "textit",
        "textrm",
        "texttt",
        "textsf",
        "emph",
        "mathrm",
        "mathbf",
        "mathit",
        "mathsf",
        "mathtt",
        "mathcal",
        "mathbb",
        "mathfrak",
        "mathscr",
        "boldsymbol",
        "bm",
        "operatorname",
        "mbox",
        "hbox",
        "fbox",
        "boxed",
        "hat",
        "widehat",
        "bar",
        "overline",
        "underline",
        "vec",
        "overrightarrow",
        "overleftarrow",
        "tilde",
        "widetilde",
        "dot",
        "ddot",
        "check",
        "breve",
        "acute",
        "grave",
        "mathring",
        "underbrace",
        "overbrace",
        "ce",
        "pu",
        "tag",
        "substack",
    }
)
# Commands that take no output at all, and whose braced arguments are dropped.
_DROP_ARGS = {"begin": 1, "end": 1, "label": 1, "color": 1, "phantom": 1, "vspace": 1, "hspace": 1}
_FRACTIONS = frozenset({"frac", "dfrac", "tfrac", "cfrac", "over"})
_BINOMS = frozenset({"binom", "dbinom", "tbinom", "choose"})
_NO_ARG_OUTPUT = frozenset(
    {
        "displaystyle",
        "textstyle",
        "left",
        "right",
        "big",
        "Big",
        "bigg",
        "Bigg",
        "bigl",
        "bigr",
        "Bigl",
        "Bigr",
        "biggl",
        "biggr",
        "Biggl",
        "Biggr",
        "limits",
        "nolimits",
        "nonumber",
        "notag",
    }
)
_SPACED_OPS = " +-*/×·=<>≤≥≈≠→"


def _read_group(s: str, i: int) -> tuple[str, int]:
    """Read one LaTeX argument at ``s[i:]``: a braced group, a command or one character."""
    n = len(s)
    while i < n and s[i] == " ":
        i += 1
    if i >= n:
        return "", i
    if s[i] == "{":
        depth, j = 1, i + 1
        while j < n and depth:
            c = s[j]
            if c == "\\":
                j += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        return s[i + 1 : j - 1 if depth == 0 else j], j
    if s[i] == "\\":
        j = i + 1
        while j < n and s[j].isalpha():
            j += 1
        return s[i : max(j, i + 2)], max(j, i + 2)
    return s[i], i + 1


def _wrap(text: str) -> str:
    text = text.strip()
    if len(text) > 1 and any(c in text for c in _SPACED_OPS):
        return f"({text})"
    return text


def latex_to_text(s: str) -> str:
    """Convert a LaTeX math fragment to readable text: ``\\frac{a}{b}`` → ``a/b``.

    Literal ``\\n`` pairs (the corpus's line breaks) become newlines unless they start a known
    command such as ``\\nabla``.
    """
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            d = s[i + 1]
            if d.isalpha():
                j = i + 1
                while j < n and s[j].isalpha():
                    j += 1
                name = s[i + 1 : j]
                if name[0] == "n" and name not in _N_COMMANDS:
                    out.append("\n")  # a literal line break followed by ordinary letters
                    i += 2
                    continue
                i = j
                if name in _FRACTIONS or name in _BINOMS:
                    a, i = _read_group(s, i)
                    b, i = _read_group(s, i)
                    a_txt, b_txt = _wrap(latex_to_text(a)), _wrap(latex_to_text(b))
                    out.append(f"{a_txt}/{b_txt}" if name in _FRACTIONS else f"C({a_txt}, {b_txt})")
                elif name == "sqrt":
                    root = ""
                    if i < n and s[i] == "[":
                        close = s.find("]", i)
                        if close != -1:
                            root, i = latex_to_text(s[i + 1 : close]), close + 1
                    arg, i = _read_group(s, i)
                    out.append(f"{root}√{_wrap(latex_to_text(arg))}")
                elif name in _DROP_ARGS:
                    for _ in range(_DROP_ARGS[name]):
                        _, i = _read_group(s, i)
                elif name in _NO_ARG_OUTPUT:
                    pass  # sizing/spacing hints; the delimiter that follows is printed as usual
                elif name in _KEEP_ARG:
                    arg, i = _read_group(s, i)
                    out.append(latex_to_text(arg))
                elif name in _SYMBOLS:
                    out.append(_SYMBOLS[name])
                else:
                    out.append(name)  # \sin, \log, \max, unknown macros: the name reads fine
                    if i < n and s[i] == " ":
                        out.append(" ")
                        i += 1
                continue
            i += 2
            if d == "\\":
                out.append("\n")
            elif d in ",;:! >":
                out.append(" ")
            elif d in "{}%$#&_":
                out.append(d)
            elif d == "|":
                out.append("‖")
            else:
                out.append(d)
        elif c == "{":
            arg, i = _read_group(s, i)
            out.append(latex_to_text(arg))
        elif c in "^_":
            i += 1  # Ca^{2+} reads as Ca2+, x_i as xi: keep the script's text, drop the marker
        elif c in "&~":
            out.append(" ")
            i += 1
        elif c == "}":
            i += 1
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r" *\n[\n ]*", "\n", text).strip()


# ---------------------------------------------------------------------------------------------
# markdown and the whole answer

_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")

_FENCE = re.compile(
    r"(?:```|~~~)[ \t]*[\w+#.-]*[ \t]*(?:\\n|\n)?(.*?)(?:\\n|\n)?[ \t]*(?:```|~~~)", re.DOTALL
)
_INLINE_CODE = re.compile(r"`+([^`]+?)`+")
_SPACES = re.compile(r"[ \t\u00a0\u200b\f\v]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")
_MATH = re.compile(
    r"\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|\\\((?P<paren>.+?)\\\)"
    r"|(?<![\\$])\$(?!\$)(?P<inline>(?:\\.|[^$\\])+?)\$(?!\$)",
    re.DOTALL,
)
# Each rule runs only when the text holds one of its "needs" strings, without which its pattern
# cannot match: most answers have no table, heading or link, and each pass costs a full scan.
_MD_RULES: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (re.compile(r"^[ \t]*#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M), r"\1", ("#",)),  # headings
    (
        re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.M),
        "",
        ("-", "*", "_"),
    ),  # horizontal rules
    (
        re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$", re.M),
        "",
        ("---",),
    ),  # table separator rows
    (re.compile(r"^[ \t]*\|(.*?)\|?[ \t]*$", re.M), r"\1", ("|",)),  # table row edges
    (re.compile(r"[ \t]*\|[ \t]*"), "; ", ("|",)),  # table cell separators
    (re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M), "", (">",)),  # blockquotes
    (
        re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+", re.M),
        "",
        ("-", "*", "+", "•", ".", ")"),
    ),  # list markers
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1", ("![",)),  # images → alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1", ("](",)),  # links → link text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1", ("][",)),  # reference links
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1", ("<http",)),  # autolinks
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S), r"\2", ("**", "__")),  # bold
    (
        re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])"),
        r"\1",
        ("*",),
    ),  # italic *
    (
        re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])"),
        r"\1",
        ("_",),
    ),  # italic _
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1", ("~~",)),  # strikethrough
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>$])"), r"\1", ("\\",)),  # markdown escapes
    (re.compile(r"\*{2,}|_{3,}"), "", ("**", "___")),  # unmatched emphasis runs
]


_LATEX_HINT = re.compile(r"\\[a-zA-Z]|[\^_{}=]")
_SHORT_SYMBOL = re.compile(r"\s*[A-Za-z][A-Za-z0-9']{0,2}\s*")
_ESCAPED_N = re.compile(r"\\(n[a-zA-Z]*)")


def _is_inline_math(body: str, text_after: str) -> bool:
    """Tell ``$x^2$`` and ``$ \\Delta G $`` from two prices such as ``$5 and $10``."""
    if "\n" in body or any(name not in _N_COMMANDS for name in _ESCAPED_N.findall(body)):
        return False  # inline math never spans a line break
    if not body[0].isspace() and not body[-1].isspace() and not text_after.isdigit():
        return True  # pandoc's rule
    # The corpus also writes "$ \\Delta G $" with inner spaces: accept those that look like math.
    return bool(_LATEX_HINT.search(body) or _SHORT_SYMBOL.fullmatch(body))


def _strip_markdown(text: str) -> str:
    for pattern, repl, needs in _MD_RULES:
        if any(n in text for n in needs):
            text = pattern.sub(repl, text)
    return text


def _decode_newlines(text: str) -> str:
    text = text.replace("\\r\\n", "\n").replace("\\n", "\n")
    return text.replace('\\"', '"')


def _tidy(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _SPACE_AROUND_NEWLINE.sub("\n", text)
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean_answer(raw: str) -> str:
    """Clean a raw answer into plain text with paragraph breaks (``\\n\\n``) kept."""
    if not raw:
        return ""
    pieces: list[str] = []

    def hold(text: str, block: bool = False) -> str:
        pieces.append(f"\n\n{text}\n\n" if block else text)
        return f"{_PH_OPEN}{len(pieces) - 1}{_PH_CLOSE}"

    text = raw
    # Each pass only when its marker occurs (a full scan each, and most answers have neither).
    if "```" in text or "~~~" in text:
        text = _FENCE.sub(
            lambda m: hold(_decode_newlines(m.group(1)).strip("\n"), block=True), text
        )
    if "`" in text:
        text = _INLINE_CODE.sub(lambda m: hold(_decode_newlines(m.group(1))), text)

    def math(m: re.Match[str]) -> str:
        inline = m.group("inline")
        if inline is not None and not _is_inline_math(
            inline, text_after=m.string[m.end() : m.end() + 1]
        ):
            return m.group(0)
        body = next(g for g in m.groups() if g is not None)
        block = m.group("display") is not None or m.group("bracket") is not None
        return hold(latex_to_text(body), block=block)

    if "$" in text or "\\(" in text or "\\[" in text:
        text = _MATH.sub(math, text)
    text = _strip_markdown(_decode_newlines(text))
    # Placeholders may nest (code held inside math), so substitute until none are left.
    for _ in range(3):
        if _PH_OPEN not in text:
            break
        text = _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], text)
    return _tidy(text)


#: Words joined by plain punctuation: nothing any cleaning rule would change (most keywords
#: and questions), so they skip the rules, which cost ~20 regex passes each.
_PLAIN_LINE = re.compile(r"[^\W_]+(?:[ ,.'’?:;/%-]+[^\W_]+)*[.?]?")


def clean_text(raw: str) -> str:
    """Clean a one-line field (question, keyword): same rules, collapsed to one line."""
    stripped = raw.strip()
    if _PLAIN_LINE.fullmatch(stripped) and "  " not in stripped:
        return stripped
    return re.sub(r"\s+", " ", clean_answer(raw)).strip()
