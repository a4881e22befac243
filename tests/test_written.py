"""Written answers: grading pages checked in offline Chromium, the score sheet, and the merged gradebook."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import pytest  # noqa: E402
from conftest import answered, png_base64, probe_page  # noqa: E402

from autograder.assignment import PROJECT_ROOT, list_assignments  # noqa: E402
from autograder.written import PLACEHOLDER, read_rubrics, written_questions  # noqa: E402

HOSTILE = ("<script>document.title = 'pwned'</script> ![x](http://example.com/a.png) "
           "<img src=http://example.com/b.png onerror=\"document.title='pwned'\"> [link](javascript:alert(1)) "
           "$\\text{<img src=x onerror=\"document.title='pwned'\">}$ and $a <b> c$")  # markup smuggled in math


def _png() -> str:
    return png_base64((3, 2))


_answered = answered


@pytest.fixture(scope="module")
def pages(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("written")
    student = nbformat.read(built.student_notebook, as_version=4)
    subs = tmp / "subs"
    subs.mkdir()
    full = _answered(student, lambda k: f"Part {k}: write $x^\\top c = \\sum_i x_i c_i$, so\n\n"
                     f"$$\\frac{{\\partial f}}{{\\partial x_j}} = c_j .$$\n\n![my sketch](attachment:sketch.png)",
                     attach=_png())
    nbformat.write(full, subs / "alice.ipynb")
    nbformat.write(_answered(student, lambda k: f"Some answer number {k} with $a^2$.", skip=5), subs / "bea.ipynb")
    nbformat.write(_answered(student, lambda k: HOSTILE), subs / "mallory.ipynb")
    twin = _answered(student, lambda k: f"The same long answer for part {k}: the derivative of the inner product "
                     "with respect to x is the row c transposed, entry by entry.")
    nbformat.write(twin, subs / "tom.ipynb")
    nbformat.write(twin, subs / "tim.ipynb")
    near = _answered(student, lambda k: f"The same long answer for part {k}: the derivative of the inner product "
                     "with respect to x is the row c transposed, entry by entry, of course.")
    nbformat.write(near, subs / "tam.ipynb")  # nearly identical: one phrase more
    (subs / "broken.ipynb").write_text("{not json")
    out = tmp / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "written", "--assignment", "hw0", "--out", str(out),
                           str(subs)], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    return tmp, out, proc.stdout


_PROBE = """
window.addEventListener('load', () => setTimeout(() => {
  const maths = [...document.querySelectorAll('math')];
  const typeset = maths.filter(m => m instanceof MathMLElement && m.getBoundingClientRect().width > 0);
  const imgs = [...document.images];
  const loaded = imgs.filter(i => i.complete && i.naturalWidth > 0);
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    title: document.title, math: maths.length, typeset: typeset.length, images: imgs.length, loaded: loaded.length,
    external: imgs.filter(i => !i.src.startsWith('data:')).length,
    scripts: document.scripts.length, links: [...document.links].map(a => a.href),
    blank: document.querySelectorAll('.tag.blank').length, dup: document.querySelectorAll('.tag.dup').length,
    answers: document.querySelectorAll('section.answer').length, text: document.body.innerText});
  document.body.appendChild(out);
}, 300));
"""


def _probe(page: Path, tmp: Path) -> dict:
    return probe_page(page, tmp, _PROBE, height=2000)


def test_a_grading_page_typesets_math_shows_images_and_runs_no_student_script(pages):
    tmp, out, stdout = pages
    result = _probe(out / "q1a_written.html", tmp)
    assert result["title"] == "hw0 q1a_written"  # the hostile answer's script never ran
    assert result["scripts"] == 1  # the probe only: the answer's <script> is text
    assert result["math"] > 5 and result["typeset"] == result["math"], result
    assert result["external"] == 0 and result["images"] == result["loaded"] >= 1, result
    assert not any(h.startswith("javascript:") for h in result["links"])
    assert "image not shown: http://example.com/a.png" in result["text"]
    assert "<script>" in result["text"]  # shown as the text it is
    # the top: question, worked solution, rubric; then the six submissions, anonymised
    assert result["text"].index("Question") < result["text"].index("Worked solution") < result["text"].index("Rubric")
    assert result["answers"] == 7 and "alice" not in result["text"] and re.search(r"S-[0-9a-f]{8}", result["text"])
    assert result["blank"] == 2  # bea skipped this part; the unreadable notebook has no answer
    assert result["dup"] == 3  # tom and tim, identical; tam, nearly
    assert result["text"].count("identical or nearly identical to") == 3


def test_the_index_and_the_score_sheet(pages):
    tmp, out, stdout = pages
    questions = written_questions(_hw0())
    index = (out / "index.html").read_text()
    assert all(f'href="{q.name}.html"' in index for q in questions)
    assert "broken.ipynb" in index  # the unreadable notebook is named
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == 7
    bea = next(r for r in rows if r["submission"].endswith("bea.ipynb"))
    assert [bea[f"{q.name}:points"] for q in questions[:6]] == ["0"] * 5 + [""]
    assert bea[f"{questions[0].name}:comment"] == "blank answer"
    assert "7 submissions, 22 written questions" in stdout


def _hw0():
    from autograder.assignment import load_assignment

    return load_assignment("hw0")


def _auto_csv(tmp: Path, subs: list[str], hw0) -> Path:
    path = tmp / "grades.csv"
    qids = hw0.question_ids
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "status", "score", "max_score", *qids])
        for i, s in enumerate(subs):
            w.writerow([s, "ok", str(10 + i), f"{hw0.max_score:g}", *(["0"] * len(qids))])
    return path


def _fill(sheet: Path, change) -> Path:
    rows = list(csv.DictReader(sheet.open()))
    header = next(csv.reader(sheet.open()))
    for row in rows:
        change(row)
    out = sheet.with_name(f"filled-{len(list(sheet.parent.glob('filled-*')))}.csv")
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return out


def _gradebook(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", "gradebook", "--assignment", "hw0", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)


def test_merge_gives_the_final_gradebook_exactly(pages):
    tmp, out, _ = pages
    hw0 = _hw0()
    questions = written_questions(hw0)
    rubric = read_rubrics(hw0)
    sheet = out / "scores.csv"
    subs = [r["submission"] for r in csv.DictReader(sheet.open())]
    auto = _auto_csv(tmp, subs, hw0)
    first = questions[0]
    credit = [i for i in rubric[first.name] if i.points > 0]

    def grade(row):
        for q in questions:
            if row[f"{q.name}:points"] == "":
                row[f"{q.name}:points"] = f"{q.points:g}"
        if row[f"{first.name}:comment"] != "blank answer":
            row[f"{first.name}:points"] = ""
            row[f"{first.name}:items"] = f"{credit[0].id}"  # points from the item
            row[f"{first.name}:comment"] = "Good start; say why."

    filled = _fill(sheet, grade)
    final = tmp / "final.csv"
    feedback = tmp / "feedback"
    roster = tmp / "roster.csv"
    roster.write_text("student_id,name\nalice,Alice A\nbea,Bea B\nzed,Zed Z\n")
    proc = _gradebook("--auto", auto, "--written", filled, "--out", final, "--feedback-dir", feedback, "--roster", roster,
                      "--report", tmp / "written-report.html")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(final.open()))
    assert [r["submission"] for r in rows] == subs
    assert list(rows[0])[-3:] == ["written_score", "total", "max_total"]
    written_max = sum(q.points for q in questions)
    for i, r in enumerate(rows):
        blanks = {q.name for q in questions if r["submission"].endswith("bea.ipynb") and q in questions[:5]}
        blank_all = r["submission"].endswith("broken.ipynb")
        expect = {q.name: 0.0 if (q.name in blanks or blank_all) else q.points for q in questions}
        if not (first.name in blanks or blank_all):
            expect[first.name] = min(first.points, credit[0].points)
        assert {q.name: float(r[q.name]) for q in questions} == expect, r["submission"]
        assert float(r["written_score"]) == pytest.approx(sum(expect.values()))
        assert float(r["total"]) == pytest.approx(10 + i + sum(expect.values()))
        assert float(r["max_total"]) == pytest.approx(hw0.max_score + written_max)
    per_student = list(csv.DictReader((tmp / "final-roster.csv").open()))
    assert [(r["student_id"], r["name"], r["status"]) for r in per_student[:3]] == [
        ("alice", "Alice A", "ok"), ("bea", "Bea B", "ok"), ("zed", "Zed Z", "missing")]
    assert len(per_student) == 3 + 5  # the five submissions no roster student owns keep their rows
    notes = " ".join(p.read_text() for p in feedback.glob("*.md"))
    assert "## Written answers" in notes and credit[0].comment in notes and "Good start; say why." in notes
    report = (tmp / "written-report.html").read_text()
    assert 'id="written-vs-auto"' in report and credit[0].id in report


@pytest.mark.parametrize("change, says", [
    (lambda row: row.update({"q1a_written:items": "no-such-item"}), "unknown rubric item 'no-such-item'"),
    (lambda row: row.update({"q1a_written:points": "99"}), "is out of range"),
    (lambda row: row.update({"q1a_written:points": "lots"}), "is not a number"),
    (lambda row: row.update({"q1a_written:points": "", "q1a_written:items": ""}), "not graded yet"),
])
def test_a_bad_score_sheet_names_its_row_and_column(pages, change, says):
    tmp, out, _ = pages
    hw0 = _hw0()
    sheet = out / "scores.csv"
    subs = [r["submission"] for r in csv.DictReader(sheet.open())]
    questions = written_questions(hw0)

    def fill(row):
        for q in questions:
            row[f"{q.name}:points"] = row[f"{q.name}:points"] or "0"
        if row["submission"].endswith("alice.ipynb"):
            change(row)

    proc = _gradebook("--auto", _auto_csv(tmp, subs, hw0), "--written", _fill(sheet, fill), "--out", tmp / "x.csv")
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
    assert re.search(r"row \d+", proc.stderr) and ("q1a_written" in proc.stderr)


def test_a_missing_or_duplicate_row_is_refused(pages):
    tmp, out, _ = pages
    hw0 = _hw0()
    sheet = out / "scores.csv"
    subs = [r["submission"] for r in csv.DictReader(sheet.open())]
    text = sheet.read_text().splitlines()
    missing = tmp / "missing.csv"
    missing.write_text("\n".join(text[:-1]) + "\n")
    proc = _gradebook("--auto", _auto_csv(tmp, subs, hw0), "--written", missing, "--out", tmp / "x.csv")
    assert proc.returncode == 2 and "has no row in" in proc.stderr
    duplicate = tmp / "duplicate.csv"
    duplicate.write_text("\n".join([*text, text[1]]) + "\n")
    proc = _gradebook("--auto", _auto_csv(tmp, subs, hw0), "--written", duplicate, "--out", tmp / "x.csv")
    assert proc.returncode == 2 and "appears twice" in proc.stderr
    stranger = tmp / "stranger.csv"
    stranger.write_text("\n".join([*text, "other.ipynb," + text[1].split(",", 1)[1]]) + "\n")
    proc = _gradebook("--auto", _auto_csv(tmp, subs, hw0), "--written", stranger, "--out", tmp / "x.csv")
    assert proc.returncode == 2 and "'other.ipynb' is not in" in proc.stderr


def test_the_export_zip_holds_a_pdf_of_every_written_answer(built, tmp_path):
    """The student's export cell, run in a real kernel, adds the written answers' PDF (via Chromium) to the zip."""
    import shutil
    import zipfile

    import nbclient
    from pypdf import PdfReader

    folder = tmp_path / "student"
    shutil.copytree(built.student_notebook.parent, folder)
    nb = nbformat.read(folder / "hw0.ipynb", as_version=4)
    answered = _answered(nb, lambda k: f"Written answer number {k} unique{k}zq, see $x^2$.")
    nbformat.write(answered, folder / "hw0.ipynb")
    run = nbformat.read(folder / "hw0.ipynb", as_version=4)  # every cell, the export cell last
    client = nbclient.NotebookClient(run, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()
    said = " ".join(o.get("text", "") for c in run.cells if "add_written_pdf" in c.source for o in c.outputs)
    assert "Added hw0_written.pdf" in said, said
    (zip_path,) = folder.glob("hw0_*.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert "hw0.ipynb" in zf.namelist() and "hw0_written.pdf" in zf.namelist()
        pdf = zf.read("hw0_written.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    count = sum(c.cell_type == "markdown" and c.source.strip() == PLACEHOLDER for c in nb.cells)
    assert count == 22
    missing = [k for k in range(1, count + 1) if f"unique{k}zq" not in text.replace(" ", "")]
    assert missing == []


def test_a_prompt_edited_after_release_is_found_by_its_place(built, tmp_path):
    """Notebooks handed out before a prompt was reworded still have their answers read, with a note."""
    from autograder.assignment import load_assignment
    from autograder.written import collect

    hw0 = load_assignment("hw0")
    student = nbformat.read(built.student_notebook, as_version=4)
    nb = _answered(student, lambda k: f"Answer {k} in place.")
    first = written_questions(hw0)[0]
    prompt_cell = next(c for c in nb.cells if c.cell_type == "markdown" and "BEGIN QUESTION" in c.source)
    prompt_cell.source = prompt_cell.source.replace(first.prompt.strip()[:30], "An older wording of the prompt")
    nbformat.write(nb, tmp_path / "old.ipynb")
    _, (sub,) = collect(hw0, [tmp_path / "old.ipynb"])
    answer = sub.answers[first.name]
    assert not answer.blank and "Answer 1 in place." in answer.text and "Found by its place" in answer.html
    assert sub.answers[written_questions(hw0)[1].name].text.startswith("Answer 2")


@pytest.mark.parametrize("name", list_assignments())
def test_the_handed_out_notebook_is_all_blank_and_the_solution_is_all_answered(name, tmp_path):
    """For every assignment: a written part with a plot stub (a comment and `...`) counts as blank until filled."""
    from autograder.assignment import load_assignment
    from autograder.build import build
    from autograder.written import collect

    assignment = load_assignment(name)
    out = build(assignment, dist=tmp_path / "dist")
    _, (blank, solved) = collect(assignment, [out.student_notebook, out.solution_notebook])
    assert [q for q, a in blank.answers.items() if not a.blank] == []
    assert [q for q, a in solved.answers.items() if a.blank or not a.found] == []
