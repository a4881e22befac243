"""The worked solutions: complete in the master, checked by executing it, rendered offline, never shipped to students."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.assignment import PROJECT_ROOT, load_assignment
from autograder.build import MasterExecutionError, build, read_master
from autograder.solutions import MathError, latex_to_mathml, render_markdown

_IGNORE = re.compile(r"#\s*ignore", flags=re.IGNORECASE)


def _written_blocks(nb) -> dict[str, list]:
    """name of each manual question → the cells between its BEGIN and END SOLUTION."""
    blocks, question, inside = {}, None, False
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("# BEGIN QUESTION"):
            question = re.search(r"name:\s*(\S+)", src).group(1) if "manual: true" in src else None
        elif cell.cell_type == "raw" and src.startswith("# BEGIN SOLUTION"):
            inside = True
            if question:
                blocks[question] = []
        elif cell.cell_type == "raw" and src.startswith("# END SOLUTION"):
            inside = False
        elif inside and question:
            blocks[question].append(cell)
    return blocks


def _illustrations(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and _IGNORE.match(c.source)]


def test_every_written_solution_has_shape_derivation_interpretation_and_a_checked_illustration(hw0):
    nb = read_master(hw0)
    blocks = _written_blocks(nb)
    assert len(blocks) >= 20
    for name, cells in blocks.items():
        text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
        for part in ("**Shape.**", "Derivation", "Interpretation"):
            assert part in text, (name, part)
        code = [c.source for c in cells if c.cell_type == "code"]
        assert code and all(_IGNORE.match(s) for s in code), f"{name}: illustration cells must start with '# IGNORE'"
        assert all("assert " in s for s in code), f"{name}: an illustration without an assert checks nothing"
    # 1(f) has no written question: its solution is an IGNORE'd markdown cell plus its own checked illustration
    notes = [c for c in nb.cells if c.cell_type == "markdown" and _IGNORE.match(c.source)]
    assert any("1(f)" in c.source for c in notes)
    assert len(_illustrations(nb)) >= len(blocks) + 1


def test_figures_the_issue_asks_for_are_drawn(hw0):
    sources = "\n".join(c.source for c in _illustrations(read_master(hw0)))
    assert "sig / (sig ** 2 + lam)" in sources and "1 / (2 * np.sqrt(lam))" in sources  # ridge gain vs σ
    assert "pivot" in sources and "subplots(2, 3" in sources  # the ReLU cases, before/after, pivot −1/x


def test_illustrations_never_reach_students_or_the_grader(built, hw0):
    """otter drops '# IGNORE' cells from both notebooks: students never see them, grading never runs them."""
    for path in (built.student_notebook, built.solution_notebook):
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "jac_fd" not in text and "numerical check" not in text and "Solution of 1(f)" not in text, path
    student = "\n".join(c.source for c in nbformat.read(built.student_notebook, as_version=4).cells)
    for cells in _written_blocks(read_master(hw0)).values():
        for cell in cells:
            long_lines = [ln.strip() for ln in cell.source.splitlines() if len(ln.strip()) > 30]
            assert not [ln for ln in long_lines if ln in student]


def test_solutions_page_is_built_outside_the_student_folder(built):
    page = built.solutions_html
    assert page is not None and page.exists()
    assert page.parent.name == "solutions" and page.parent.parent == built.student_notebook.parent.parent
    student_files = {p.name for p in built.student_notebook.parent.rglob("*")}
    assert not any("solution" in name for name in student_files)


def test_page_is_self_contained_with_math_already_converted(built):
    html = built.solutions_html.read_text()
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    text = re.sub(r"<math.*?</math>|<pre.*?</pre>|<code.*?</code>", "", html, flags=re.S)
    assert "$" not in text  # every $…$ became MathML
    assert html.count("<math") > 500
    assert html.count('<img class="figure"') >= 4
    for figure in re.findall(r'src="data:image/svg\+xml;base64,[^"]+"', html):
        assert len(figure) > 10_000


def test_math_converter_refuses_what_it_cannot_typeset():
    assert "<msqrt>" in latex_to_mathml(r"\sqrt\lambda", display=False)
    assert "argmin" in latex_to_mathml(r"\arg\min_w \|w\|", display=True)
    with pytest.raises(MathError):
        latex_to_mathml(r"\notacommand x", display=False)
    html = render_markdown("Price: $a_1 + b^2$ and\n\n$$\\frac{1}{2}$$\n")
    assert html.count("<math") == 2 and "$" not in html


def test_a_false_claim_in_an_illustration_fails_the_build(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "assignments" / "hw0", root / "assignments" / "hw0")
    true_claim = "assert np.allclose(X.T @ r, 0, atol=1e-12)"
    (master,) = [p for p in (root / "assignments" / "hw0" / "master").glob("*.md") if true_claim in p.read_text()]
    master.write_text(master.read_text().replace(true_claim, "assert np.allclose(X.T @ r, 1)  # residual ⟂ columns?", 1))
    with pytest.raises(MasterExecutionError, match="residual"):
        build(load_assignment("hw0", root=root), dist=tmp_path / "dist")


_PROBE = """
window.addEventListener('load', () => setTimeout(() => {
  const maths = [...document.querySelectorAll('math')];
  const typeset = maths.filter(m => m instanceof MathMLElement && m.getBoundingClientRect().width > 0);
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('math, pre, code, script').forEach(e => e.remove());
  const raw = (clone.textContent.match(/\\$[^$]+\\$/g) || []).length;
  const imgs = [...document.images];
  const loaded = imgs.filter(i => i.complete && i.naturalWidth > 100 && i.getBoundingClientRect().width > 100);
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({math: maths.length, typeset: typeset.length, raw_dollars: raw,
                                    dollars_in_text: clone.textContent.split('$').length - 1,
                                    images: imgs.length, loaded: loaded.length});
  document.body.appendChild(out);
}, 300));
"""


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not installed (scripts/setup-system.sh installs it)")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           f"--user-data-dir={tmp_path / 'chrome-profile'}", *args]
    if shutil.which("unshare"):
        cmd = ["unshare", "-n", *cmd]  # no network at all, where the kernel allows it
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_page_typesets_math_and_loads_figures_in_offline_chromium(built, tmp_path):
    html = built.solutions_html.read_text()
    # the page forbids every script; the probe needs one, so allow inline scripts in this copy only
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
                     .replace("</body>", f"<script>{_PROBE}</script></body>"), encoding="utf-8")
    proc = _chromium("--window-size=1200,2000", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
                     tmp_path=tmp_path)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout)
    assert found, proc.stderr[-1000:]
    result = json.loads(found.group(1))
    assert result["math"] == html.count("<math") and result["math"] > 500
    assert result["typeset"] == result["math"], result
    assert result["raw_dollars"] == 0 and result["dollars_in_text"] == 0, result
    assert result["images"] == html.count("<img") >= 4 and result["loaded"] == result["images"], result

    shot = tmp_path / "solutions.png"
    proc = _chromium("--window-size=1000,1400", "--hide-scrollbars", f"--screenshot={shot}",
                     built.solutions_html.as_uri(), tmp_path=tmp_path)
    assert shot.exists() and shot.stat().st_size > 50_000, proc.stderr[-1000:]
