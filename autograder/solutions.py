"""Render the executed master notebook as a self-contained solutions page (HTML).

The page works offline: the math is converted at build time from LaTeX to MathML
(which browsers typeset natively), figures are embedded as data URIs, and the
page loads nothing from anywhere.  It shows, in order, every problem statement,
every prompt and, in a marked box, every solution: the written derivations, the
solution code of the autograded functions, and the numerical illustrations with
their outputs and figures.

What counts as solution content in the master (otter-assign format):

* everything between the raw cells ``# BEGIN SOLUTION`` and ``# END SOLUTION``;
* cells whose first line is ``# IGNORE`` (otter drops them from both the student
  and the autograder notebooks): the illustration cells and the solution notes of
  sub-parts that have no written question.  The marker line is not shown.

Test blocks (``# BEGIN TESTS`` … ``# END TESTS``) and configuration cells are left out.
"""

from __future__ import annotations

import base64
import html
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from xml.etree.ElementTree import Element, tostring

import nbformat
from latex2mathml.converter import convert_to_element as _latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

# the same test otter assign applies (otter.assign.utils.is_ignore_cell)
_IGNORE = re.compile(r"(##\s*ignore\s*##\s*|#\s*ignore\s*)", flags=re.IGNORECASE)
_SOLUTION_LINE = re.compile(r"^\s*#\s*(BEGIN|END) SOLUTION\s*$", flags=re.IGNORECASE)


class MathError(ValueError):
    """A LaTeX fragment that the converter cannot typeset."""


# commands the converter lacks or mistypesets, rewritten into ones it handles
_MACROS = [
    (re.compile(r"\\arg\s*\\(min|max)(?![A-Za-z])"), r"\\operatorname{arg\1}"),
    # it turns \mathrm{d} into a bare <mi>d</mi>, which browsers set in italic; \mathrm d keeps it upright
    (re.compile(r"\\mathrm\s*\{\s*([A-Za-z])\s*\}"), r"{\\mathrm \1}"),
]

_PRIMES = frozenset("\u2032\u2033\u2034\u2057")  # ′ ″ ‴ ⁗
_SCRIPTED = frozenset({"msup", "msubsup"})

# mathvariant="…" → words of the Unicode names of the Mathematical Alphanumeric Symbols
_VARIANTS = {"bold": "BOLD", "italic": "ITALIC", "bold-italic": "BOLD ITALIC", "script": "SCRIPT",
             "bold-script": "BOLD SCRIPT", "fraktur": "FRAKTUR", "bold-fraktur": "BOLD FRAKTUR",
             "double-struck": "DOUBLE-STRUCK", "sans-serif": "SANS-SERIF", "bold-sans-serif": "SANS-SERIF BOLD",
             "sans-serif-italic": "SANS-SERIF ITALIC", "sans-serif-bold-italic": "SANS-SERIF BOLD ITALIC",
             "monospace": "MONOSPACE"}


def _text(el: Element) -> str:
    """The characters of a token element (the converter keeps them as character references)."""
    return html.unescape(el.text or "")


def _set_text(el: Element, text: str) -> None:
    el.text = "".join(f"&#x{ord(c):05X};" if ord(c) > 127 else html.escape(c, quote=False) for c in text)


def _styled(char: str, variant: str) -> str:
    """``char`` in the Unicode alphabet of ``variant`` (ℝ for double-struck R), or ``char`` if there is none."""
    name = unicodedata.name(char, "")
    letter = re.fullmatch(r"(?:LATIN|GREEK) (CAPITAL|SMALL) LETTER (\w+)", name)
    key = f"{letter[1]} {letter[2]}" if letter else name.removeprefix("GREEK ").replace("LUNATE ", "")
    if not key or key == "SPACE":
        return char
    words = _VARIANTS[variant]
    # the holes of the block are the older Letterlike Symbols: ℝ, ℒ, ℭ (BLACK-LETTER), ℎ (PLANCK CONSTANT)
    for candidate in (f"MATHEMATICAL {words} {key}", f"{words.replace('FRAKTUR', 'BLACK-LETTER')} {key}"):
        try:
            return unicodedata.lookup(candidate)
        except KeyError:
            pass
    return "\u210e" if (words, key) == ("ITALIC", "SMALL H") else char


def _apply_variants(el: Element, inherited: str | None = None) -> None:
    """Write mathvariant styles as the styled characters: Chromium (MathML Core) ignores the attribute.

    The converter emits ``<mi mathvariant="double-struck">R</mi>`` for ``\\mathbb R`` (and likewise for
    \\mathcal L, \\mathbf x, \\boldsymbol\\theta …), which Chromium draws as a plain R.
    """
    variant = el.get("mathvariant", inherited)
    if variant in _VARIANTS and len(el) == 0 and el.tag in ("mi", "mn", "mo", "mtext"):
        text = _text(el)
        styled = "".join(_styled(c, variant) for c in text)
        if styled != text:
            _set_text(el, styled)
            el.attrib.pop("mathvariant", None)
    for child in el:
        _apply_variants(child, variant)


def _is_prime(el: Element) -> bool:
    """A token or row made of primes only (′, ″, …; ``x^{'}`` gives a row of an empty <mi/> and a prime)."""
    if el.tag == "mrow":
        tokens = [c for c in el if not (c.tag == "mi" and len(c) == 0 and not _text(c))]
        return len(tokens) > 0 and all(_is_prime(c) for c in tokens)
    return el.tag in ("mi", "mo") and len(el) == 0 and bool(_text(el)) and set(_text(el)) <= _PRIMES


def _prime_operator(primes: list[Element]) -> Element:
    mo = Element("mo", {"lspace": "0em", "rspace": "0em"})
    _set_text(mo, "".join(_text(t) for p in primes for t in p.iter() if len(t) == 0))
    return mo


def _unscript_primes(el: Element) -> None:
    """Set primes beside their base, at full size: ``x'`` → ``<mi>x</mi><mo>′</mo>``.

    The converter writes ``x'`` as ``<msup><mi>x</mi><mi>′</mi></msup>``.  The prime glyph of a Unicode math
    font is already raised; as a superscript Chromium shrinks and raises it again, into an illegible tick.
    The primes leave the superscript; a subscript or the rest of the superscript stays on the primed base:
    ``w'_i`` → ``<msub><mrow>w ′</mrow><mi>i</mi></msub>``, ``x'^2`` → ``<msup><mrow>x ′</mrow><mn>2</mn></msup>``.
    """
    for child in el:
        _unscript_primes(child)
    if el.tag not in _SCRIPTED or len(el) != (2 if el.tag == "msup" else 3):
        return
    sup = el[-1]
    parts = list(sup) if sup.tag == "mrow" and not _is_prime(sup) else [sup]
    primes = []
    while parts and _is_prime(parts[0]):
        primes.append(parts.pop(0))
    if not primes:
        return
    base, subscript = el[0], list(el[1:-1])  # the subscript of an msubsup
    if base.tag == "mo" and "rspace" not in base.attrib:  # \operatorname{act}': no gap before the prime
        base.set("rspace", "0em")
    primed = [base, _prime_operator(primes)]
    if len(parts) > 1:
        row = Element("mrow")
        row.extend(parts)
        parts = [row]
    el.clear()
    if not subscript and not parts:
        el.tag = "mrow"
        el.extend(primed)
        return
    el.tag = "msubsup" if subscript and parts else "msub" if subscript else "msup"
    row = Element("mrow")
    row.extend(primed)
    el.extend([row, *subscript, *parts])


_ENTITY = re.compile(r"&amp;(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")

# Untrusted LaTeX (students' written answers).  Macro definitions expand without limit on size (\def of 9,000
# characters used 99 times: 15 s and 9 MB of MathML from one 9 kB formula), so they are refused; \style, \class,
# \href and \cssId write attributes (CSS that covers the page, the page's own classes such as "tag dup"), so
# only the attributes that typesetting needs are kept, with plain values and bounded lengths.
_MACRO_DEFINITION = re.compile(r"\\(?:[egx]?def|let|(?:re)?newcommand|providecommand|(?:re)?newenvironment"
                               r"|DeclareMathOperator)(?![A-Za-z])")
_LENGTHS = frozenset({"width", "height", "depth", "voffset", "lspace", "rspace", "mathsize", "minsize", "maxsize",
                      "linethickness", "rowspacing", "columnspacing", "framespacing"})
_PLAIN = frozenset({"display", "mathvariant", "stretchy", "fence", "separator", "largeop", "movablelimits", "accent",
                    "accentunder", "form", "symmetric", "displaystyle", "scriptlevel", "notation", "columnalign",
                    "rowalign", "columnlines", "rowlines", "frame", "equalrows", "equalcolumns", "mathcolor",
                    "mathbackground", "open", "close", "separators", "align", "linebreak"})
_PLAIN_VALUE = re.compile(r"#?[A-Za-z0-9 .+-]{0,40}")
_LENGTH = re.compile(r"([+-]?)(\d+\.?\d*|\.\d+)(em|ex|px|pt|mu)?")
_LENGTH_LIMIT = {"em": 10.0, "ex": 20.0, "px": 160.0, "pt": 120.0, "mu": 180.0, None: 10.0}


def _plain_length(value: str) -> bool:
    for word in value.split() or [""]:
        m = _LENGTH.fullmatch(word)
        if not (re.fullmatch(r"[A-Za-z]{1,20}", word) or m and float(m[2]) <= _LENGTH_LIMIT[m[3]]):
            return False
    return True


def _sanitize(tree: Element) -> None:
    """Keep only the attributes typesetting needs, with plain values (no CSS, no URL, no class)."""
    for el in tree.iter():
        for name, value in list(el.attrib.items()):
            ok = (name in _LENGTHS and _plain_length(value)) or (name in _PLAIN and _PLAIN_VALUE.fullmatch(value))
            if not ok:
                del el.attrib[name]


@lru_cache(maxsize=65536)  # a class writes the same formulas many times
def latex_to_mathml(tex: str, *, display: bool, untrusted: bool = False) -> str:
    """MathML for ``tex``; raises :class:`MathError` rather than leave raw LaTeX on the page.

    ``untrusted``: a student's LaTeX; no macro definitions, and no attribute beyond what typesetting needs.
    """
    source = tex.strip()
    if untrusted and _MACRO_DEFINITION.search(source):
        raise MathError(f"cannot typeset ${tex[:200]}$: macro definitions are not allowed")
    for pattern, replacement in _MACROS:
        source = pattern.sub(replacement, source)
    try:
        tree = _latex_to_mathml(source, display="block" if display else "inline")
    except Exception as exc:  # the converter raises assorted errors on bad input
        raise MathError(f"cannot typeset ${tex}$: {exc}") from exc
    _apply_variants(tree)
    _unscript_primes(tree)
    if untrusted:
        _sanitize(tree)
    # The converter keeps entities (&#x0221E;, &lt;) as text, which serialising escapes once more: undo that
    # for entities only.  A blanket unescape would also turn a "<" typed in \text{...} into markup.
    out = _ENTITY.sub(r"&\1;", tostring(tree, encoding="unicode"))
    if "\\" in out:  # an unknown command was copied through as text
        raise MathError(f"cannot typeset ${tex}$: unknown command in {out!r}")
    return out.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")  # implied in HTML


def _markdown(*, untrusted: bool = False) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")

    def render(content: str, options: dict) -> str:
        return latex_to_mathml(content, display=bool(options.get("display_mode")), untrusted=untrusted)

    dollarmath_plugin(md, allow_space=True, allow_digits=False, double_inline=True, renderer=render)
    return md


_MD = _markdown()
_MD_UNTRUSTED = _markdown(untrusted=True)
_FORMATTER = HtmlFormatter(cssclass="code", nowrap=False)


_INLINE_MATH = r'<span class="math inline"><math display="inline">.*?</math></span>'
# inline math with the text written against it, without a space: "for $x$, the", "($A$)", "$f$/$g$"
_MATH_SPAN = re.compile(_INLINE_MATH, flags=re.S)
_STOP = frozenset(" \t\n\r\f\v<>")  # text "written against" math ends at a space or a tag


def render_markdown(text: str, *, untrusted: bool = False,
                    image: Callable[[str], str | None] | None = None) -> str:
    """HTML for Markdown with ``$…$`` math; raw HTML is escaped.

    ``untrusted`` (a student's text): LaTeX as in :func:`latex_to_mathml`.  ``image``: called with the ``src``
    of every image (inline or by reference), returns the ``src`` to use, or None to show the image's address
    as text instead.
    """
    md = _MD_UNTRUSTED if untrusted else _MD
    if image is None:
        return _glue(md.render(text))
    env: dict = {}
    tokens = md.parse(text, env)
    for block in tokens:
        for i, token in enumerate(block.children or []):
            if token.type == "image":
                src = str(token.attrGet("src") or "")
                new = image(src)
                if new is None:
                    block.children[i] = Token("text", "", 0, content=f"[image not shown: {src[:80]}]")
                else:
                    token.attrSet("src", new)
    return _glue(md.renderer.render(tokens, md.options, env))


def _glue(page: str) -> str:
    """Wrap each run of inline math and the text written against it (no space between) in a nowrap span.

    One pass over the inline-math spans, looking at the characters on either side: linear in the page."""
    out, pos, matches, i = [], 0, list(_MATH_SPAN.finditer(page)), 0
    while i < len(matches):
        start = matches[i].start()
        while start > pos and page[start - 1] not in _STOP:
            start -= 1
        j, end = i, matches[i].end()
        while True:
            while end < len(page) and page[end] not in _STOP:
                end += 1
            if j + 1 < len(matches) and matches[j + 1].start() == end:  # "$f$/$g$": one run
                j, end = j + 1, matches[j + 1].end()
                continue
            break
        run = page[start:end]
        alone = i == j and start == matches[i].start() and end == matches[i].end()
        out += [page[pos:start], run if alone else f'<span class="nowrap">{run}</span>']
        pos, i = end, j + 1
    out.append(page[pos:])
    return "".join(out)


def _is_ignore(cell) -> bool:
    return bool(cell.source) and bool(_IGNORE.match(cell.source.splitlines()[0]))


def _code_source(cell) -> str:
    lines = cell.source.splitlines()
    if _is_ignore(cell):
        lines = lines[1:]
    lines = [ln for ln in lines if not _SOLUTION_LINE.match(ln)]
    return "\n".join(lines).strip("\n")


def _markdown_source(cell) -> str:
    lines = cell.source.splitlines()
    return "\n".join(lines[1:] if _is_ignore(cell) else lines)


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(f'<pre class="output">{html.escape(out.get("text", ""))}</pre>')
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            if "image/svg+xml" in data:
                svg = data["image/svg+xml"]
                svg = svg if isinstance(svg, str) else "".join(svg)
                uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
                parts.append(f'<figure><img class="figure" alt="figure" src="{uri}"></figure>')
            elif "image/png" in data:
                parts.append(f'<figure><img class="figure" alt="figure" src="data:image/png;base64,'
                             f'{data["image/png"].strip()}"></figure>')
            elif "text/plain" in data:
                parts.append(f'<pre class="output">{html.escape(data["text/plain"])}</pre>')
        elif kind == "error":
            parts.append(f'<pre class="output error">{html.escape(out.get("ename", ""))}: '
                         f'{html.escape(out.get("evalue", ""))}</pre>')
    return "\n".join(parts)


def _blocks(nb: nbformat.NotebookNode) -> Iterable[tuple[bool, str]]:
    """``(is_solution, html)`` for each shown cell, in order."""
    in_solution = in_tests = False
    for cell in nb.cells:
        first = cell.source.strip().splitlines()[0].strip().upper() if cell.source.strip() else ""
        if cell.cell_type == "raw":
            if first.startswith("# BEGIN SOLUTION"):
                in_solution = True
            elif first.startswith("# END SOLUTION"):
                in_solution = False
            elif first.startswith("# BEGIN TESTS"):
                in_tests = True
            elif first.startswith("# END TESTS"):
                in_tests = False
            continue
        if in_tests or "build-setup" in cell.get("metadata", {}).get("tags", []):
            continue
        solution = in_solution or _is_ignore(cell)
        if cell.cell_type == "markdown":
            yield solution, render_markdown(_markdown_source(cell))
        elif cell.cell_type == "code":
            source = _code_source(cell)
            if not source or source.startswith("# CHECKS "):
                continue
            code = highlight(source, PythonLexer(), _FORMATTER)
            if _is_ignore(cell):  # verification code: folded away (still executed by the build); its figures stay
                code = f'<details class="check"><summary>{_CHECK_SUMMARY}</summary>{code}</details>'
            yield solution, code + _outputs(cell)


_CHECK_SUMMARY = "Numerical check (code, executed by the build)"
_CSS = """
body { font-family: "DejaVu Serif", Georgia, serif; line-height: 1.5; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1d; }
math { font-family: math, "STIX Two Math", "Latin Modern Math", "Cambria Math", serif; font-size: 1.05em; }
math[display="block"] { margin: 0.6em 0; }
.nowrap { white-space: nowrap; }
h1, h2 { font-family: "DejaVu Sans", Helvetica, sans-serif; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
.solution { border-left: 4px solid #2a7ab9; background: #f5f9fc; padding: 0.3rem 1rem; margin: 0.8rem 0 1.6rem; }
.solution > .label { font: bold 0.8rem "DejaVu Sans", sans-serif; color: #2a7ab9; text-transform: uppercase;
                     letter-spacing: 0.05em; margin-top: 0.4rem; }
.code { background: #fff; border: 1px solid #dde3e8; border-radius: 3px; overflow-x: auto; font-size: 0.85rem; }
.code pre { margin: 0; padding: 0.5rem 0.7rem; }
details.check > summary { font: 0.8rem "DejaVu Sans", sans-serif; color: #55606a; cursor: pointer; margin: 0.3rem 0; }
pre.output { background: #f0f0f0; padding: 0.4rem 0.7rem; font-size: 0.8rem; overflow-x: auto; }
figure { margin: 0.5rem 0; text-align: center; }
img.figure { max-width: 100%; height: auto; }
.banner { font: 0.85rem "DejaVu Sans", sans-serif; background: #fff4d6; border: 1px solid #e8cf88; padding: 0.4rem 0.8rem; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; }
"""


def render_solutions(nb: nbformat.NotebookNode, *, title: str) -> str:
    """The whole solutions page for an executed master notebook."""
    body, run = [], []

    def flush():
        if run:
            body.append('<section class="solution"><div class="label">Solution</div>\n' + "\n".join(run) + "</section>")
            run.clear()

    for solution, fragment in _blocks(nb):
        if solution:
            run.append(fragment)
        else:
            flush()
            body.append(fragment)
    flush()
    body.insert(0, '<p class="banner">Worked solutions, built from the master by <code>autograder build</code>. '
                   "For instructors and TAs; release to students only after the deadline.</p>")
    css = _CSS + _FORMATTER.get_style_defs(".code")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">",
        f"<title>{html.escape(title)}</title>",
        f"<style>{css}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
    ])
