"""The worked solutions: complete in the master, checked by executing it, rendered offline, never shipped to students."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import nbformat
import pytest
from conftest import chromium, probe_page

from autograder.assignment import PROJECT_ROOT, load_assignment
from autograder.build import MasterExecutionError, build, read_master
from autograder.solutions import MathError, latex_to_mathml, render_markdown, render_solutions

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
    return chromium(*args, profile=tmp_path / "chrome-profile")


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


# --- rendering details, measured in Chromium on small pages made by render_solutions ---

_MEASURE = """
window.addEventListener('load', () => setTimeout(() => {
  let result;
  try { result = (() => { %s })(); } catch (error) { result = {error: String(error)}; }
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
}, 300));
"""


def _measure(markdown: list[str], script: str, *, tmp_path: Path, width: int = 1000) -> dict:
    """Render ``markdown`` cells as a solutions page, run ``script`` (a function body) on it in Chromium."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(m) for m in markdown])
    page = render_solutions(nb, title="probe")
    assert "<script" not in page
    probe = tmp_path / "measure.html"
    probe.write_text(page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
                     .replace("</body>", f"<script>{_MEASURE % script}</script></body>"), encoding="utf-8")
    proc = _chromium(f"--window-size={width},2000", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
                     tmp_path=tmp_path)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, flags=re.S)
    assert found, proc.stderr[-1000:]
    return json.loads(unescape(found.group(1)))


_PRIMED = [
    r"Inline: $x'$, $x''$, $x'''$, $f'(z)$, $x^\prime$, $x^{\prime\prime}$, $w'_i$, $w_i'$, $x^{\prime}_i$, $x'^2$, "
    r"$w'^{(2)}$, $\mathrm{relu}'(z)$, $\operatorname{relu}'(z)$, $\sigma'(t)$, $\hat w'$, $e^{x'}$, $(x')^2$, "
    r"$A_{ij}'$, $x^{'}$, $\mathbf{w}'$ and $e' - e = \mathrm{lr}\,g\,(1 + e\,x)/w'$.",
    r"$$e' - e = \frac{\mathrm{lr}\,g\,(1 + e\,x)}{w'} ,\qquad w'_i = w_i - g_i' ,\qquad f''(x) = \sigma'(x)^2$$",
]

_PRIME_PROBE = r"""
  const PRIME = /^[\u2032\u2033\u2034\u2057]+$/;
  const SCRIPTED = new Set(['msup', 'msub', 'msubsup', 'munder', 'mover', 'munderover', 'mmultiscripts']);
  const isPrime = el => PRIME.test(el.textContent.trim());
  const size = el => parseFloat(getComputedStyle(el).fontSize);
  const textHeight = el => { const r = document.createRange(); r.selectNodeContents(el);
                             return r.getBoundingClientRect().height; };
  const firstToken = el => [el, ...el.querySelectorAll('*')].find(t => !t.children.length && t.textContent.trim());
  // the base of a prime: the nucleus it is scripted on, else what it follows
  const baseOf = tok => {
    let node = tok;
    while (node.parentElement.localName === 'mrow' && !node.previousElementSibling) node = node.parentElement;
    const parent = node.parentElement;
    if (SCRIPTED.has(parent.localName) && node !== parent.firstElementChild) return parent.firstElementChild;
    return node.previousElementSibling;
  };
  const tokens = [...document.querySelectorAll('math mi, math mo, math mn')].filter(isPrime);
  const primes = tokens.map(tok => {
    const base = baseOf(tok), token = base && (firstToken(base) || base);
    const r = tok.getBoundingClientRect(), b = base ? base.getBoundingClientRect() : r;
    return {prime: tok.textContent, base: base ? base.textContent : null,
            size_ratio: base ? size(tok) / size(token) : 0,
            height_ratio: base ? textHeight(tok) / textHeight(token) : 0,
            after_base: r.left >= b.right - 1, width: r.width};
  });
  const scripted = [...document.querySelectorAll('msup, msubsup')].filter(s => isPrime(s.lastElementChild))
    .map(s => s.textContent);
  return {primes, scripted};
"""


def test_primes_are_drawn_at_full_size_after_their_base(tmp_path):
    result = _measure(_PRIMED, _PRIME_PROBE, tmp_path=tmp_path)
    primes = result["primes"]
    assert len(primes) >= 25, primes
    small = [p for p in primes if p["size_ratio"] < 0.85 or p["height_ratio"] < 0.85]
    assert not small, f"primes drawn smaller than their base: {small}"
    assert result["scripted"] == [], "superscripts that are only a prime: " + repr(result["scripted"])
    assert all(p["after_base"] and p["width"] > 0 for p in primes), primes


def test_prime_markup_leaves_the_prime_beside_its_base():
    assert latex_to_mathml("x'", display=False) == latex_to_mathml(r"x^\prime", display=False)
    for tex in ("x'", "x''", "f'(z)", r"x^\prime", r"x^{\prime}", "w'_i", "w_i'", r"\mathrm{relu}'(z)", "x^{'}"):
        out = latex_to_mathml(tex, display=False)
        assert not re.search(r"<msup><(\w+)[^>]*>[^<]*</\1><m[io][^>]*>&#x0203[234];</m[io]></msup>", out), out
        assert not re.search(r"<msubsup>(?:<(\w+)[^>]*>[^<]*</\1>){2}<m[io][^>]*>&#x0203[234];", out), out
    assert "<msub>" in latex_to_mathml("w'_i", display=False)  # the subscript stays
    assert "<msup>" in latex_to_mathml("x'^2", display=False)  # and so does the rest of a superscript


_STYLED = [  # (LaTeX, a MathML token of how it must look)
    (r"\mathbb R", "<mi>\u211d</mi>"),
    (r"\mathbb{R}", "<mi>\u211d</mi>"),
    (r"\mathbb{R}^{n}", "<mi>\u211d</mi>"),
    (r"x \in \mathbb R^{n\times m}", "<mi>\u211d</mi>"),
    (r"\mathbb E_x", "<mi>\U0001d53c</mi>"),
    (r"\mathbb 1", "<mn>\U0001d7d9</mn>"),
    (r"\mathcal L", "<mi>\u2112</mi>"),
    (r"\mathcal N(0, 1)", "<mi>\U0001d4a9</mi>"),
    (r"\mathbf x", "<mi>\U0001d431</mi>"),
    (r"\boldsymbol\theta", "<mi>\U0001d73d</mi>"),
    (r"\mathfrak g", "<mi>\U0001d524</mi>"),
    (r"\mathrm{d}x", '<mi mathvariant="normal">d</mi>'),
]
_PLAIN = ["<mi>R</mi>"] * 4 + ["<mi>E</mi>", "<mn>1</mn>", "<mi>L</mi>", "<mi>N</mi>", "<mi>x</mi>",
                              "<mi>\u03b8</mi>", "<mi>g</mi>", "<mi>d</mi>"]  # what Chromium drew instead

_STYLED_PROBE = r"""
  const refs = %s;
  // how Chromium draws a token: its width, and whether it italicises it (text-transform: math-auto)
  const look = el => [Math.round(el.getBoundingClientRect().width * 4) / 4, getComputedStyle(el).textTransform];
  const reference = token => {  // the token alone, drawn by Chromium for comparison
    const math = document.createElementNS('http://www.w3.org/1998/Math/MathML', 'math');
    math.innerHTML = token;
    document.body.appendChild(math);
    return math.firstElementChild;
  };
  const maths = [...document.querySelectorAll('math')];
  return refs.map(([tex, token, plain], i) => {
    const ref = reference(token), bare = reference(plain);
    const same = [...maths[i].querySelectorAll('mi, mn')].filter(t => t.textContent === ref.textContent);
    return {tex, found: same.map(look), ref: look(ref), plain: look(bare),
            ignored: [...maths[i].querySelectorAll('[mathvariant]')].map(t => t.getAttribute('mathvariant'))
                     .filter(v => v !== 'normal')};
  });
"""


def test_blackboard_and_other_alphabets_are_drawn_as_such(tmp_path):
    """Chromium ignores mathvariant (but "normal"): \\mathbb R must arrive as ℝ, not as R plus an attribute."""
    refs = [[tex, token, plain] for (tex, token), plain in zip(_STYLED, _PLAIN, strict=True)]
    result = _measure([" ".join(f"${tex}$," for tex, _ in _STYLED)], _STYLED_PROBE % json.dumps(refs),
                      tmp_path=tmp_path)
    assert len(result) == len(_STYLED)
    for case in result:
        assert case["ref"][0] > 0 and case["ref"] != case["plain"], case  # the test can tell them apart
        assert case["found"] and all(found == case["ref"] for found in case["found"]), case
        assert case["ignored"] == [], case


_GLUE_PROBE = r"""
  const charBox = (node, i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                                 return r.getBoundingClientRect(); };
  const checked = [], split = [];
  for (const span of document.querySelectorAll('span.math')) {
    const math = span.getBoundingClientRect();
    const after = span.nextSibling, before = span.previousSibling, sides = [];
    if (after && after.nodeType === 3 && /^[,.;:!?)\]]/.test(after.data)) sides.push([after, 0]);
    if (before && before.nodeType === 3 && /[(\[]$/.test(before.data)) sides.push([before, before.data.length - 1]);
    for (const [node, i] of sides) {
      const box = charBox(node, i), middle = (box.top + box.bottom) / 2;
      checked.push(node.data[i]);
      if (middle < math.top || middle > math.bottom) split.push(node.data[i] + ' ' + span.textContent);
    }
  }
  return {width: document.documentElement.clientWidth, checked: checked.length, split};
"""


def test_punctuation_stays_on_the_line_of_the_math_before_it(tmp_path):
    words = ["so", "the", "for", "then", "hence", "consider", "therefore", "eventually"]
    text = " ".join(f"{words[k % 8]} {'ab ' * (k % 5)}for $x_{{{k}}}$, then ($A$) or $w'$. "
                    f"{words[(3 * k) % 8]} $\\lambda$; and $f$/$g$: done" for k in range(60))
    result = _measure([text], _GLUE_PROBE, tmp_path=tmp_path, width=320)
    assert result["width"] <= 500 and result["checked"] >= 300, result  # headless Chromium's narrowest window
    assert result["split"] == [], result["split"][:10]


PROSE_BUDGET = 3_500  # words of prose in the solution boxes (an official solution set's length)
_WORDS = """
window.addEventListener('load', () => setTimeout(() => {
  const boxes = [...document.querySelectorAll('section.solution')].map(s => s.cloneNode(true));
  boxes.forEach(b => b.querySelectorAll('math, pre, code, figure, .label, .highlight').forEach(e => e.remove()));
  const words = boxes.map(b => (b.innerText || b.textContent).split(/\\s+/).filter(w => /[A-Za-z]/.test(w)).length);
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({boxes: boxes.length, words: words.reduce((a, b) => a + b, 0)});
  document.body.appendChild(out);
}, 300));
"""


def test_solution_prose_stays_within_its_word_budget(built, tmp_path):
    """The worked solutions read like an official set: their prose (math, code and figures left out),
    counted in Chromium as a reader sees it, stays under the budget."""
    result = probe_page(built.solutions_html, tmp_path, _WORDS)
    print(f"solution prose: {result['words']} words in {result['boxes']} solution boxes (budget {PROSE_BUDGET})")
    assert result["boxes"] >= 40
    assert 1_000 < result["words"] <= PROSE_BUDGET


def test_verification_code_is_folded_away_and_its_figures_stay_in_view(built, hw0):
    """Every `# IGNORE` check's code sits in a closed <details> (it still ran in the build); figures stay visible."""
    from autograder.build import read_master

    page = built.solutions_html.read_text(encoding="utf-8")
    checks = [c for c in read_master(hw0).cells if c.cell_type == "code" and c.source.lstrip().upper().startswith(
        "# IGNORE")]
    folded = re.findall(r'<details class="check">(.*?)</details>', page, re.S)
    assert len(folded) == len(checks) >= 20
    assert all("assert" in f or "plt." in f or "print" in f for f in folded)
    assert "<details open" not in page
    outside = re.sub(r'<details class="check">.*?</details>', "", page, flags=re.S)
    assert outside.count("<img") == page.count("<img") >= 4  # the figures are not folded
