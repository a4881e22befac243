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
from collections.abc import Iterable

import nbformat
from latex2mathml.converter import convert as _latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

# the same test otter assign applies (otter.assign.utils.is_ignore_cell)
_IGNORE = re.compile(r"(##\s*ignore\s*##\s*|#\s*ignore\s*)", flags=re.IGNORECASE)
_SOLUTION_LINE = re.compile(r"^\s*#\s*(BEGIN|END) SOLUTION\s*$", flags=re.IGNORECASE)


class MathError(ValueError):
    """A LaTeX fragment that the converter cannot typeset."""


# commands the converter lacks, rewritten into ones it has
_MACROS = [(re.compile(r"\\arg\s*\\(min|max)(?![A-Za-z])"), r"\\operatorname{arg\1}")]


def latex_to_mathml(tex: str, *, display: bool) -> str:
    """MathML for ``tex``; raises :class:`MathError` rather than leave raw LaTeX on the page."""
    source = tex.strip()
    for pattern, replacement in _MACROS:
        source = pattern.sub(replacement, source)
    try:
        out = _latex_to_mathml(source, display="block" if display else "inline")
    except Exception as exc:  # the converter raises assorted errors on bad input
        raise MathError(f"cannot typeset ${tex}$: {exc}") from exc
    if "\\" in out:  # an unknown command was copied through as text
        raise MathError(f"cannot typeset ${tex}$: unknown command in {out!r}")
    return out.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")  # implied in HTML


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")

    def render(content: str, options: dict) -> str:
        return latex_to_mathml(content, display=bool(options.get("display_mode")))

    dollarmath_plugin(md, allow_space=True, allow_digits=False, double_inline=True, renderer=render)
    return md


_MD = _markdown()
_FORMATTER = HtmlFormatter(cssclass="code", nowrap=False)


def render_markdown(text: str) -> str:
    return _MD.render(text)


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
            yield solution, code + _outputs(cell)


_CSS = """
body { font-family: "DejaVu Serif", Georgia, serif; line-height: 1.5; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1d; }
math { font-family: math, "STIX Two Math", "Latin Modern Math", "Cambria Math", serif; font-size: 1.05em; }
math[display="block"] { margin: 0.6em 0; }
h1, h2 { font-family: "DejaVu Sans", Helvetica, sans-serif; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
.solution { border-left: 4px solid #2a7ab9; background: #f5f9fc; padding: 0.3rem 1rem; margin: 0.8rem 0 1.6rem; }
.solution > .label { font: bold 0.8rem "DejaVu Sans", sans-serif; color: #2a7ab9; text-transform: uppercase;
                     letter-spacing: 0.05em; margin-top: 0.4rem; }
.code { background: #fff; border: 1px solid #dde3e8; border-radius: 3px; overflow-x: auto; font-size: 0.85rem; }
.code pre { margin: 0; padding: 0.5rem 0.7rem; }
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
