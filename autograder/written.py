"""Written answers: from the students' notebooks to one grading page per question, and a score sheet.

``collect`` finds each written (``manual``) question's answer in every submission: the
cells between the question's prompt and otter's ``<!-- END QUESTION -->`` marker.  The
pages show the question, the official worked solution and the rubric on top, then every
answer, anonymised by default.  Nothing a student wrote is trusted: Markdown is rendered
without raw HTML, images are shown only from the notebook itself (attachments, outputs,
``data:`` URIs), and every page forbids scripts and network loads in its
Content-Security-Policy.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autograder.assignment import Assignment
from autograder.errors import UserError
from autograder.export import BEGIN, END  # otter's markers around a written question
from autograder.submissions import InvalidNotebook, find_submissions, label, read_notebook

PLACEHOLDER = "_Type your answer here, replacing this text._"
MAX_CELLS = 30  # answer cells kept per question
MAX_TEXT = 20_000  # characters kept per answer cell
MAX_ANSWER_TEXT = 40_000  # characters rendered per answer, all its cells together; the rest is cut
MAX_IMAGE = 2_000_000  # base64 characters kept per image
MAX_ANSWER_IMAGES = 8_000_000  # base64 characters shown per answer: an attachment named 900 times is 900 images
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# ------------------------------------------------------------------ the questions

@dataclass(frozen=True)
class RubricItem:
    id: str
    label: str
    points: float
    comment: str


@dataclass
class WrittenQuestion:
    name: str
    points: float
    prompt: str  # Markdown
    solution: list[str]  # Markdown cells of the worked solution
    rubric: list[RubricItem] = field(default_factory=list)


def _raw_config(cell) -> dict:
    try:
        return yaml.safe_load(cell.source) or {}
    except yaml.YAMLError:
        return {}


def written_questions(assignment: Assignment) -> list[WrittenQuestion]:
    """Every manual question of the master, in order, with its prompt, worked solution and rubric."""
    from autograder.build import read_master

    cells = read_master(assignment).cells
    rubrics = read_rubrics(assignment)
    found = []
    for i, cell in enumerate(cells):
        if not (cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# BEGIN QUESTION")):
            continue
        config = _raw_config(cell)
        if not config.get("manual"):
            continue
        name = str(config.get("name"))
        prompt, solution, inside = [], [], False
        for c in cells[i + 1:]:
            head = c.source.lstrip().upper()
            if c.cell_type == "raw" and head.startswith("# END QUESTION"):
                break
            if c.cell_type == "raw" and head.startswith("# BEGIN SOLUTION"):
                inside = True
            elif c.cell_type == "raw" and head.startswith("# END SOLUTION"):
                inside = False
            elif c.cell_type == "markdown":
                (solution if inside else prompt).append(c.source)
        points = assignment.written.get(name, float(config.get("points", 0)))
        found.append(WrittenQuestion(name, points, "\n\n".join(prompt), solution, rubrics.get(name, [])))
    return found


def read_rubrics(assignment: Assignment) -> dict[str, list[RubricItem]]:
    """``rubrics.yaml`` beside the master: question → items; checked (ids unique, credits sum to the points)."""
    path = assignment.folder / "rubrics.yaml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of question → items")
    rubrics = {}
    for question, spec in data.items():
        items = (spec or {}).get("items") if isinstance(spec, dict) else None
        if not isinstance(items, list) or not items:
            raise UserError(f"{path}: {question}: expected 'items', a list of rubric items")
        parsed = []
        for item in items:
            try:
                parsed.append(RubricItem(str(item["id"]), str(item["label"]), float(item["points"]),
                                         str(item.get("comment", ""))))
            except (KeyError, TypeError, ValueError):
                raise UserError(f"{path}: {question}: every item needs an id, a label and points") from None
        ids = [it.id for it in parsed]
        if len(set(ids)) != len(ids):
            raise UserError(f"{path}: {question}: rubric item ids must be unique")
        rubrics[str(question)] = parsed
    return rubrics


# ------------------------------------------------------------------ the answers

@dataclass
class Answer:
    """One submission's answer to one written question, as safe HTML."""

    html: str
    text: str  # for blank and duplicate detection
    blank: bool
    found: bool = True  # False: the question's prompt is not in the notebook


@dataclass
class Submission:
    key: str  # the path as given
    label: str
    code: str  # a stable anonymous code
    answers: dict[str, Answer]
    problem: str = ""  # why the notebook could not be read


def anonymous_code(key: str) -> str:
    return "S-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _text(value: object) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _image_uri(mime: str, data: object, budget: list[int] | None = None) -> str | None:
    """A ``data:`` URI for base64 image data of an allowed type (a string, or a list of strings as nbformat
    allows), or None; ``budget`` (characters left for this answer's images) is charged."""
    if isinstance(data, list) and len(data) <= 100_000 and all(isinstance(v, str) for v in data):
        data = "".join(data) if sum(map(len, data)) <= 2 * MAX_IMAGE else None
    if mime not in IMAGE_TYPES or not isinstance(data, str) or len(data) > 2 * MAX_IMAGE:
        return None
    clean = re.sub(r"\s+", "", data)
    if len(clean) > MAX_IMAGE or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", clean):
        return None
    if budget is not None:
        if len(clean) > budget[0]:
            return None
        budget[0] -= len(clean)
    return f"data:{mime};base64,{clean}"


def _image(mime: str, data: object, budget: list[int] | None = None) -> str | None:
    uri = _image_uri(mime, data, budget)
    return f'<img class="answer-image" alt="image" src="{uri}">' if uri else None


def _attachment_uri(attachments: object, name: str, budget: list[int] | None = None) -> str | None:
    if not isinstance(attachments, dict) or not isinstance(attachments.get(name), dict):
        return None
    for mime in IMAGE_TYPES:
        uri = _image_uri(mime, attachments[name].get(mime), budget)
        if uri:
            return uri
    return None


_DATA_IMAGE = re.compile(r"data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=]+)")


def _student_markdown(source: str, attachments: object, budget: list[int] | None = None) -> str:
    """Student Markdown as HTML: no raw HTML (escaped), images only from the notebook itself.

    Images are checked on the parsed Markdown, so every form (inline, by reference, with any title) is seen."""
    from urllib.parse import unquote

    from autograder.solutions import render_markdown

    budget = [MAX_ANSWER_IMAGES] if budget is None else budget
    checked: dict[str, str | None] = {}  # an attachment is checked once, however often it is named

    def image(src: str) -> str | None:
        if src.startswith("attachment:"):
            name = src[len("attachment:"):]
            if name not in checked:
                checked[name] = _attachment_uri(attachments, name) or _attachment_uri(attachments, unquote(name))
            uri = checked[name]
        else:
            data = _DATA_IMAGE.fullmatch(src)
            uri = _image_uri(data[1], data[2]) if data else None
        if uri is None or len(uri) > budget[0]:
            return None
        budget[0] -= len(uri)
        return uri

    try:
        return render_markdown(source, untrusted=True, image=image)
    except Exception:  # noqa: BLE001  (malformed math: show the text as it is)
        return f"<pre>{html.escape(source)}</pre>"


def _cell_html(cell: dict, budget: list[int] | None = None, room: int = MAX_TEXT) -> tuple[str, str]:
    """(html, text) of one answer cell; ``budget``: image characters left for the answer, ``room``: text."""
    budget = [MAX_ANSWER_IMAGES] if budget is None else budget
    source = _text(cell.get("source"))[:max(room, 0)]
    if cell.get("cell_type") == "markdown":
        if source.strip() == PLACEHOLDER:
            return "", ""
        return _student_markdown(source, cell.get("attachments"), budget), source
    if cell.get("cell_type") != "code":
        return "", ""
    parts = [] if _untouched_code(source) else [f'<pre class="code">{html.escape(source)}</pre>']
    for out in cell.get("outputs", [])[:10] if isinstance(cell.get("outputs"), list) else []:
        data = out.get("data", {}) if isinstance(out, dict) else {}
        if not isinstance(data, dict):
            continue
        image = next((tag for mime in IMAGE_TYPES if mime in data for tag in [_image(mime, data[mime], budget)]
                      if tag), None)
        if image:
            parts.append(image)
        elif isinstance(out, dict) and out.get("output_type") == "stream":
            parts.append(f'<pre class="output">{html.escape(_text(out.get("text"))[:2000])}</pre>')
    text = "" if _untouched_code(source) else source
    return "\n".join(parts), text + (" [figure]" if len(parts) > (1 if text else 0) else "")


def _markdown_texts(cells: list) -> list[str]:
    """Each cell's normalised text (markdown cells only): computed once per notebook, not once per question."""
    return [_normal(_text(c.get("source"))) if isinstance(c, dict) and c.get("cell_type") == "markdown" else ""
            for c in cells]


def _untouched_code(source: str) -> bool:
    """A code cell as handed out: nothing but comments and ``...`` (or ``pass``)."""
    code = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return code in ([], ["..."], ["pass"])


def _find_prompt(cells: list, prompt: str, normals: list[str] | None = None) -> int | None:
    key = _normal(prompt)[:400]
    normals = _markdown_texts(cells) if normals is None else normals
    for i, text in enumerate(normals):
        if key and key in text:
            return i
    return None


def answer_of(nb: dict, question: WrittenQuestion, normals: list[str] | None = None,
              position: tuple[int, int] | None = None) -> Answer:
    """The answer below the question's prompt.  A prompt edited after release (so that no notebook holds
    the master's text any more) is found by its place instead, ``position = (k, of n written questions)``,
    when the notebook has exactly n written-question prompts; the page says so."""
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    start = _find_prompt(cells, question.prompt, normals)
    note = ""
    if start is None and position is not None:
        begins = [i for i, c in enumerate(cells) if isinstance(c, dict) and c.get("cell_type") == "markdown"
                  and BEGIN in _text(c.get("source"))]
        if len(begins) == position[1]:
            start = begins[position[0]]
            note = ('<p class="missing">Found by its place: this notebook\'s prompt differs from the master\'s '
                    "(edited after release?); check that it is the right question.</p>")
    if start is None:
        return Answer('<p class="missing">The question is not in this notebook (deleted or edited).</p>', "", True,
                      found=False)
    parts, texts = [], []
    budget, room = [MAX_ANSWER_IMAGES], MAX_ANSWER_TEXT
    for cell in cells[start + 1:start + 1 + MAX_CELLS]:
        if not isinstance(cell, dict):
            continue
        source = _text(cell.get("source"))
        if END in source or BEGIN in source:
            break
        if room <= 0:
            parts.append(f'<p class="missing">(cut: the answer is longer than {MAX_ANSWER_TEXT} characters)</p>')
            break
        part, text = _cell_html(cell, budget, room)
        room -= len(source)
        if part:
            parts.append(part)
        texts.append(text)
    text, body = "\n".join(t for t in texts if t.strip()), "\n".join(parts)
    # the body is painted inside its own box: MathML moved or sized past it (\smash{\lower…}) cannot cover
    # another answer, its header or its tags
    return Answer(note + (f'<div class="answer-body">{body}</div>' if parts else ""), text, blank=not text.strip())


def collect(assignment: Assignment, paths: list[Path]) -> tuple[list[WrittenQuestion], list[Submission]]:
    questions = written_questions(assignment)
    if not questions:
        raise UserError(f"{assignment.name} has no written questions (manual questions in its master)")
    submissions = []
    for path in find_submissions(paths):
        key = str(path)
        try:
            nb = read_notebook(path)
            problem = ""
        except (InvalidNotebook, OSError) as exc:
            nb, problem = {}, f"could not be read: {exc}"
        cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
        normals = _markdown_texts(cells)
        answers = {q.name: answer_of(nb, q, normals, (k, len(questions))) for k, q in enumerate(questions)}
        submissions.append(Submission(key, label(path), anonymous_code(key), answers, problem))
    _unique_codes(submissions)
    return questions, submissions


def _unique_codes(submissions: list[Submission]) -> None:
    """Two submissions never share a code: a name chosen to collide with another's 8 hex digits gets more."""
    seen: dict[str, int] = {}
    for s in submissions:
        seen[s.code] = seen.get(s.code, 0) + 1
    for s in submissions:
        if seen[s.code] > 1:
            s.code = "S-" + hashlib.sha256(s.key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# ------------------------------------------------------------------ duplicates

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")


def _normal(text: str) -> str:
    """Lower case words and single spaces; invisible characters (a zero-width space inside a word, which
    would split it and hide a copied answer from the duplicate check) removed, compatibility forms folded."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def _shingles(text: str, k: int = 3) -> frozenset[str]:
    words = _normal(text).split()
    return frozenset(" ".join(words[i:i + k]) for i in range(max(1, len(words) - k + 1)))


def duplicates(submissions: list[Submission], question: str, *, threshold: float = 0.8,
               min_words: int = 8) -> dict[str, list[str]]:
    """Submission code → codes of the others whose answer is identical or nearly so (word 3-gram Jaccard)."""
    answers = [(s.code, s.answers[question]) for s in submissions if not s.answers[question].blank]
    shingled = [(code, _normal(a.text), _shingles(a.text)) for code, a in answers]
    exact: dict[str, list[str]] = {}
    for code, norm, _ in shingled:
        exact.setdefault(norm, []).append(code)
    found: dict[str, list[str]] = {}
    for codes in exact.values():
        for code in codes if len(codes) > 1 else []:
            found[code] = [c for c in codes if c != code]
    index: dict[str, list[int]] = {}  # shingle → answers holding it: only pairs that share one are compared
    for i, (_, norm, sh) in enumerate(shingled):
        if len(norm.split()) >= min_words:
            for s in sh:
                index.setdefault(s, []).append(i)
    pairs = {(a, b) for ids in index.values() if len(ids) < 200 for a in ids for b in ids if a < b}
    for a, b in pairs:
        (ca, na, sa), (cb, nb, sb) = shingled[a], shingled[b]
        if na != nb and len(sa & sb) / len(sa | sb) >= threshold:
            found.setdefault(ca, []).append(cb)
            found.setdefault(cb, []).append(ca)
    return {code: sorted(set(others)) for code, others in found.items()}


# ------------------------------------------------------------------ pages and the score sheet

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
.top { border: 1px solid #ccd; background: #f6f7fb; padding: 0 1rem 1rem; border-radius: 6px; }
.answer { border-top: 2px solid #99a; margin-top: 1.5rem; padding-top: .5rem; }
.answer h3 { font-size: 1rem; margin: .2rem 0 .5rem; }
.tag { display: inline-block; font-size: .8rem; padding: 0 .4rem; border-radius: 4px; margin-left: .5rem; }
.blank { background: #eee; color: #555; } .dup { background: #fde2b8; color: #7a4500; }
.missing { color: #a00; } table { border-collapse: collapse; } td, th { border: 1px solid #ccd; padding: .2rem .5rem; }
img.answer-image { max-width: 100%; }
.answer-body { contain: paint; overflow: auto; position: relative; isolation: isolate; border-left: 3px solid #ccd;
               padding: 0 .6rem; } pre { white-space: pre-wrap; background: #f4f4f4; padding: .4rem; }
math { font-size: 1.05em; }
"""


def _page(title: str, body: str) -> str:
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", body, "</body>",
        "</html>"])


def _rubric_table(question: WrittenQuestion) -> str:
    if not question.rubric:
        return "<p>No rubric for this question (add it to the assignment's rubrics.yaml).</p>"
    rows = "".join(f"<tr><td><code>{html.escape(i.id)}</code></td><td>{i.points:+g}</td>"
                   f"<td>{html.escape(i.label)}</td><td>{html.escape(i.comment)}</td></tr>" for i in question.rubric)
    return f"<table><tr><th>item</th><th>points</th><th>what it is for</th><th>comment</th></tr>{rows}</table>"


def question_page(assignment: Assignment, question: WrittenQuestion, submissions: list[Submission],
                  dups: dict[str, list[str]], *, names: bool) -> str:
    from autograder.solutions import render_markdown

    top = [f"<h1>{html.escape(assignment.name)} — {html.escape(question.name)} ({question.points:g} points)</h1>",
           '<div class="top">', "<h2>Question</h2>", render_markdown(question.prompt),
           "<h2>Worked solution</h2>", *(render_markdown(s) for s in question.solution),
           "<h2>Rubric</h2>", _rubric_table(question), "</div>"]
    body = []
    for s in submissions:
        a = s.answers[question.name]
        who = html.escape(s.label if names else s.code)
        tags = ""
        if a.blank:
            tags += '<span class="tag blank">blank — pre-scored 0</span>'
        if s.code in dups:
            shown = ", ".join(html.escape(o) for o in dups[s.code][:8])
            tags += f'<span class="tag dup">identical or nearly identical to {shown}</span>'
        content = a.html if a.html else "<p><em>(no answer)</em></p>"
        body.append(f'<section class="answer" id="{s.code}"><h3>{who}{tags}</h3>{content}</section>')
    return _page(f"{assignment.name} {question.name}", "\n".join(top + body))


def index_page(assignment: Assignment, questions: list[WrittenQuestion], submissions: list[Submission],
               dups: dict[str, dict[str, list[str]]]) -> str:
    rows = []
    for q in questions:
        blanks = sum(s.answers[q.name].blank for s in submissions)
        rows.append(f'<tr><td><a href="{html.escape(page_name(q.name))}">{html.escape(q.name)}</a></td>'
                    f"<td>{q.points:g}</td><td>{len(submissions) - blanks}</td><td>{blanks}</td>"
                    f"<td>{len(dups[q.name])}</td></tr>")
    unreadable = [s for s in submissions if s.problem]
    notes = "".join(f"<li>{html.escape(s.label)}: {html.escape(s.problem[:200])}</li>" for s in unreadable)
    body = (f"<h1>{html.escape(assignment.name)} — written answers</h1>"
            f"<p>{len(submissions)} submissions. Fill in <code>scores.csv</code> (rubric item ids separated by "
            "';', or the points, and a comment), then merge it with <code>autograder gradebook</code>.</p>"
            "<table><tr><th>question</th><th>points</th><th>answered</th><th>blank</th><th>flagged as duplicates</th>"
            f"</tr>{''.join(rows)}</table>" + (f"<h2>Unreadable notebooks</h2><ul>{notes}</ul>" if notes else ""))
    return _page(f"{assignment.name} written answers", body)


def page_name(question: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", question) + ".html"


def score_columns(questions: list[WrittenQuestion]) -> list[str]:
    return [f"{q.name}:{part}" for q in questions for part in ("items", "points", "comment")]


def scores_template(questions: list[WrittenQuestion], submissions: list[Submission]) -> str:
    """One row per submission; blank answers pre-scored 0."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "code", *score_columns(questions)])
    for s in submissions:
        row = [s.label, s.code]
        for q in questions:
            row += ["", "0", "blank answer"] if s.answers[q.name].blank else ["", "", ""]
        writer.writerow(row)
    return out.getvalue()


def write_written(assignment: Assignment, paths: list[Path], out: Path, *, names: bool = False) -> dict:
    """Write the grading pages, the index and ``scores.csv`` into ``out``; returns counts."""
    from autograder.batch import write_atomically

    questions, submissions = collect(assignment, paths)
    out.mkdir(parents=True, exist_ok=True)
    all_dups = {q.name: duplicates(submissions, q.name) for q in questions}
    for q in questions:
        write_atomically(out / page_name(q.name), question_page(assignment, q, submissions, all_dups[q.name],
                                                                 names=names))
    write_atomically(out / "index.html", index_page(assignment, questions, submissions, all_dups))
    write_atomically(out / "scores.csv", scores_template(questions, submissions))
    return {"questions": len(questions), "submissions": len(submissions),
            "blank": sum(a.blank for s in submissions for a in s.answers.values()),
            "duplicates": sum(len(d) for d in all_dups.values())}

