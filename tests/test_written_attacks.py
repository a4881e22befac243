"""Hostile written answers: what a submission must not be able to do to the grading pages, `written` or `gradebook`.

Each test is an attack that worked before its fix: LaTeX attributes (\\style, \\class, \\href) that covered other
answers or forged the page's tags, MathML moved out of its box over the next answer, images by reference that
slipped past the image filter, a macro bomb, an attachment named a thousand times, a copy hidden from the
duplicate check by zero-width spaces, a file name that took another student's row in the roster view.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import pytest  # noqa: E402
from conftest import answered, png_base64, probe_page  # noqa: E402

from autograder import written  # noqa: E402
from autograder.assignment import PROJECT_ROOT  # noqa: E402
from autograder.gradebook import roster_table  # noqa: E402
from autograder.solutions import MathError, latex_to_mathml, render_markdown  # noqa: E402
from autograder.written import Answer, Submission, answer_of, duplicates  # noqa: E402

OVERLAY = (r"$\style{position:fixed;top:0;left:0;width:100vw;height:100vh;background:white;z-index:9}"
           r"{\text{FORGED PAGE}}$")
SMASHED = r"$\smash{\lower{3.6em}{\colorbox{white}{FORGED: the next answer is copied ................}}}$"
TAGS = r"$\class{tag dup}{\text{identical to S-00000000}}$ $\class{tag blank}{\text{blank — pre-scored 0}}$"
LINKS = r"$\href{javascript:document.title='pwned'}{a}$ $\href{http://example.com/}{b}$ $\rule{5000em}{5000em}$"
IMAGES = ("![a][r]\n\n[r]: http://example.com/x.png\n\n![b](http://example.com/y.png 't')\n\n"
          "![c [d]](http://example.com/z.png) $\\style{background:url(http://example.com/bg.png)}{x}$")


def _png() -> str:
    return png_base64((2, 1))


_answered = answered


_PROBE = """
window.addEventListener('load', () => setTimeout(() => {
  const secs = [...document.querySelectorAll('section.answer')];
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({title: document.title, scripts: document.scripts.length,
    dup: document.querySelectorAll('.tag.dup').length, blank: document.querySelectorAll('.tag.blank').length,
    external: [...document.images].filter(i => !i.src.startsWith('data:')).length,
    hrefs: document.querySelectorAll('section.answer [href]').length,
    styled: document.querySelectorAll('section.answer [style], section.answer [class*="tag"]').length,
    height: document.body.scrollHeight,
    covered: secs.map(s => { s.scrollIntoView(); const r = s.getBoundingClientRect();
      return [[5, 5], [5, 30], [200, 30]].map(([x, y]) => document.elementFromPoint(r.left + x, r.top + y))
        .filter(e => e && !s.contains(e)).map(e => e.tagName); }).flat()});
  document.body.appendChild(out);
}, 300));
"""


def _probe(page: Path, tmp: Path) -> dict:
    return probe_page(page, tmp, _PROBE, height=1600)


@pytest.fixture(scope="module")
def hostile_pages(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("written-attacks")
    student = nbformat.read(built.student_notebook, as_version=4)
    subs = tmp / "subs"
    subs.mkdir()
    attacks = {1: OVERLAY, 2: SMASHED, 3: TAGS, 4: LINKS, 5: IMAGES}
    # the attacker sorts between two honest students: it could cover the answer before and the one after
    for name in ("a_alice.ipynb", "c_carol.ipynb"):
        nbformat.write(_answered(student, lambda k, n=name: f"{n} wrote honest answer {k} here with great care."),
                       subs / name)
    nbformat.write(_answered(student, lambda k: attacks.get(k, "x")), subs / "b_mallory.ipynb")
    out = tmp / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "written", "--assignment", "hw0", "--out", str(out),
                           str(subs)], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    pages = sorted(p for p in out.glob("*.html") if p.name != "index.html")
    return tmp, pages


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_student_latex_and_markdown_cannot_cover_forge_or_load(hostile_pages, k):
    tmp, pages = hostile_pages
    result = _probe(pages[k - 1], tmp)
    assert result["title"].startswith("hw0 ") and result["scripts"] == 1, result
    assert result["covered"] == [], result  # no answer, header or tag is painted over by another answer
    assert result["dup"] == 0 and result["blank"] == 0, result  # the page's own tags are not forged
    assert result["external"] == 0 and result["hrefs"] == 0 and result["styled"] == 0, result
    assert result["height"] < 20_000, result  # no \rule pushes the other answers off the page


def test_images_by_reference_or_with_a_title_are_named_not_embedded():
    html = written._student_markdown(IMAGES, None)
    assert "<img" not in html and "url(" not in html
    assert html.count("[image not shown: http://example.com/") == 3


def test_a_macro_bomb_is_refused_fast():
    bomb = "\\def\\zz{" + "x" * 9000 + "}" + "\\zz" * 99  # was 15 s and 9 MB of MathML
    start = time.perf_counter()
    with pytest.raises(MathError):
        latex_to_mathml(bomb, display=False, untrusted=True)
    html = written._student_markdown(f"${bomb}$", None)
    assert time.perf_counter() - start < 2 and html.startswith("<pre>") and len(html) < 20_000
    assert "<mi>x</mi>" in render_markdown("$\\newcommand{\\zz}{x}\\zz$")  # the instructor's master may use them


def test_an_attachment_named_a_thousand_times_is_shown_within_a_budget():
    png = base64.b64encode(b"\x89PNG" + bytes(1_400_000)).decode()
    cell = {"cell_type": "markdown", "source": "![a](attachment:x.png)" * 900,
            "attachments": {"x.png": {"image/png": png}}}
    start = time.perf_counter()
    html, _ = written._cell_html(cell)
    assert time.perf_counter() - start < 5  # was minutes and gigabytes
    assert len(html) < written.MAX_ANSWER_IMAGES + 100_000 and html.count("<img") == written.MAX_ANSWER_IMAGES // len(png)


def test_an_attachment_stored_as_a_list_of_lines_is_shown_whole():
    png = _png()
    lines = [png[i:i + 76] + "\n" for i in range(0, len(png), 76)]  # nbformat allows multi-line strings
    cell = {"cell_type": "markdown", "source": "![s](attachment:s.png)", "attachments": {"s.png": {"image/png": lines}}}
    html, _ = written._cell_html(cell)
    assert f"base64,{png}" in html


def test_a_long_list_attachment_is_not_cut_to_the_text_limit():
    data = base64.b64encode(bytes(60_000)).decode()  # 80,000 characters, over MAX_TEXT
    lines = [data[i:i + 100] for i in range(0, len(data), 100)]
    html, _ = written._cell_html({"cell_type": "markdown", "source": "![s](attachment:s.png)",
                                  "attachments": {"s.png": {"image/png": lines}}})
    assert f"base64,{data}" in html


def test_zero_width_spaces_do_not_hide_a_copy():
    text = "The derivative of the inner product with respect to x is the row c transposed, entry by entry."
    hidden = "\u200b".join(text)  # renders the same
    subs = [Submission(f"{n}.ipynb", n, f"S-{i:08x}", {"q": Answer("", t, False)})
            for i, (n, t) in enumerate([("a", text), ("b", hidden)])]
    assert duplicates(subs, "q") == {"S-00000000": ["S-00000001"], "S-00000001": ["S-00000000"]}


def test_colliding_anonymous_codes_are_made_unique(monkeypatch):
    subs = [Submission(k, k, "S-deadbeef", {}) for k in ("a.ipynb", "b.ipynb", "c.ipynb")]
    written._unique_codes(subs)
    assert len({s.code for s in subs}) == 3


def test_each_cell_is_normalised_once_not_once_per_question(built, monkeypatch):
    from autograder.assignment import load_assignment

    questions = written.written_questions(load_assignment("hw0"))
    nb = json.loads(Path(built.student_notebook).read_text())
    calls = []
    real = written._normal
    monkeypatch.setattr(written, "_normal", lambda t: calls.append(1) or real(t))
    normals = written._markdown_texts(nb["cells"])
    for q in questions:
        answer_of(nb, q, normals)
    markdown = sum(c["cell_type"] == "markdown" for c in nb["cells"])
    assert len(calls) < markdown + 3 * len(questions)  # was len(questions) × cells: 41 s for a 48 MB notebook


def test_a_file_name_naming_another_student_does_not_make_them_missing():
    table = [["submission", "status", "score", "max_score"], ["subs/bob.ipynb", "ok", "9", "10"],
             ["subs/mallory_bob.ipynb", "ok", "3", "10"]]
    rows = roster_table([{"student_id": "bob", "name": "Bob"}, {"student_id": "mallory", "name": "M"}], table)
    bob = next(r for r in rows if r[0] == "bob")
    assert bob[3] != "missing" and "several" in bob[3]
    assert sum(r[2] == "subs/bob.ipynb" for r in rows) == 1  # his row is kept, unassigned
