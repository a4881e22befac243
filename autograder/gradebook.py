"""The final gradebook: autograded scores (``grade``) merged with the TA's written scores (``written``).

Both files are checked before anything is written, and a problem is reported by its
file, row and column: an unknown rubric item, points out of range, a submission in one
file and not the other, a duplicate row, a written answer not graded yet.  No row is
ever dropped: the final gradebook has one row per submission of the autograded file.
"""

from __future__ import annotations

import csv
import html
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment import Assignment
from autograder.batch import csv_text, fmt_points, write_atomically
from autograder.errors import UserError
from autograder.written import WrittenQuestion, score_columns, written_questions


@dataclass
class WrittenScore:
    points: float
    items: list[str] = field(default_factory=list)
    comment: str = ""


@dataclass
class FinalRow:
    auto: dict[str, str]  # the autograded row as read
    written: dict[str, WrittenScore]

    @property
    def submission(self) -> str:
        return self.auto["submission"]

    @property
    def written_score(self) -> float:
        return sum(w.points for w in self.written.values())


def _read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: cannot read the {what} ({exc})") from None
    if "submission" not in header:
        raise UserError(f"{path}: the {what} needs a 'submission' column")
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        if None in row:
            raise UserError(f"{path}: row {n}: more fields than the header has")
        sub = row["submission"]
        if sub in seen:
            raise UserError(f"{path}: row {n}: the submission {sub!r} appears twice (rows {seen[sub]} and {n})")
        seen[sub] = n
    return header, rows


def _score(question: WrittenQuestion, row: dict[str, str], where: str) -> WrittenScore:
    items_text = (row.get(f"{question.name}:items") or "").strip()
    points_text = (row.get(f"{question.name}:points") or "").strip()
    comment = (row.get(f"{question.name}:comment") or "").strip()
    known = {item.id: item for item in question.rubric}
    items = [i.strip() for i in items_text.replace(",", ";").split(";") if i.strip()]
    for item in items:
        if item not in known:
            allowed = ", ".join(known) or "none: this question has no rubric"
            raise UserError(f"{where}, column {question.name}:items: unknown rubric item {item!r} (known: {allowed})")
    if points_text:
        try:
            points = float(points_text)
        except ValueError:
            raise UserError(f"{where}, column {question.name}:points: {points_text!r} is not a number") from None
        if not 0 <= points <= question.points:
            raise UserError(f"{where}, column {question.name}:points: {points_text} is out of range "
                            f"(0 to {question.points:g})")
    elif items:
        points = min(question.points, max(0.0, sum(known[i].points for i in items)))
    else:
        raise UserError(f"{where}: {question.name} is not graded yet (no rubric items and no points)")
    return WrittenScore(points, items, comment)


def merge(assignment: Assignment, auto_csv: Path, written_csv: Path) -> tuple[list[WrittenQuestion], list[FinalRow]]:
    """The checked merge of the two files, one row per autograded submission."""
    questions = written_questions(assignment)
    auto_header, auto_rows = _read_csv(auto_csv, "autograded gradebook")
    for column in ("score", "max_score"):
        if column not in auto_header:
            raise UserError(f"{auto_csv}: not an autograded gradebook (no {column!r} column)")
    header, rows = _read_csv(written_csv, "written scores")
    expected = set(score_columns(questions))
    unknown = [c for c in header if c not in expected | {"submission", "code"}]
    if unknown:
        raise UserError(f"{written_csv}: unknown column {unknown[0]!r} (not a written question of {assignment.name})")
    missing = sorted(expected - set(header))
    if missing:
        raise UserError(f"{written_csv}: the column {missing[0]!r} is missing")
    written_rows = {r["submission"]: (n, r) for n, r in enumerate(rows, start=2)}
    auto_subs = {r["submission"] for r in auto_rows}
    for sub, (n, _) in written_rows.items():
        if sub not in auto_subs:
            raise UserError(f"{written_csv}: row {n}: the submission {sub!r} is not in {auto_csv}")
    for n, auto in enumerate(auto_rows, start=2):
        if auto["submission"] not in written_rows:
            raise UserError(f"{auto_csv}: row {n}: the submission {auto['submission']!r} has no row in {written_csv}")
    final = []
    for auto in auto_rows:
        wn, row = written_rows[auto["submission"]]
        final.append(FinalRow(auto, {q.name: _score(q, row, f"{written_csv}: row {wn}") for q in questions}))
    return questions, final


def final_table(auto_header: list[str], questions: list[WrittenQuestion], rows: list[FinalRow]) -> list[list[str]]:
    written_max = sum(q.points for q in questions)
    header = [*auto_header, *(q.name for q in questions), "written_score", "total", "max_total"]
    table = [header]
    for r in rows:
        total = float(r.auto["score"] or 0) + r.written_score
        max_total = float(r.auto["max_score"] or 0) + written_max
        table.append([*(r.auto.get(c, "") for c in auto_header), *(fmt_points(r.written[q.name].points)
                                                                   for q in questions),
                      fmt_points(r.written_score), fmt_points(total), fmt_points(max_total)])
    return table


def write_final(assignment: Assignment, auto_csv: Path, written_csv: Path, out: Path) -> tuple[
        list[WrittenQuestion], list[FinalRow], list[list[str]]]:
    questions, rows = merge(assignment, auto_csv, written_csv)
    auto_header, _ = _read_csv(auto_csv, "autograded gradebook")
    table = final_table(auto_header, questions, rows)
    write_atomically(out, csv_text(table))
    return questions, rows, table


def roster_table(roster: list[dict[str, str]], table: list[list[str]]) -> list[list[str]]:
    """The final gradebook per student: one row per roster student (``missing`` when nothing was
    handed in), the roster's other columns (a name) kept, then submissions no one owns."""
    from autograder.roster import match, roster_columns

    header, rows = table[0], table[1:]
    by_sub = {row[0]: row for row in rows}
    matching = match(roster, list(by_sub))
    owner = matching.owner
    mine = {sid: sub for sub, sid in owner.items()}
    extra = roster_columns(roster, ["student_id", *header])
    out = [["student_id", *(heading for _, heading in extra), *header]]
    blank = ["" for _ in header]
    for st in {st["student_id"]: st for st in roster}.values():
        sub = mine.get(st["student_id"])
        # a file name chosen by another student (mallory_bob.ipynb) can make bob's own file ambiguous: he has
        # handed in, so he is not "missing"; the rows without a student id are the candidates
        status = "unassigned (several submissions fit)" if matching.candidates.get(st["student_id"]) else "missing"
        row = by_sub[sub] if sub else [*blank[:1], status, *blank[2:]]
        out.append([st["student_id"], *(st.get(k, "") for k, _ in extra), *row])
    out += [["", *("" for _ in extra), *row] for sub, row in by_sub.items() if sub not in owner]
    return out


def feedback_section(questions: list[WrittenQuestion], row: FinalRow) -> str:
    """The written part of a student's feedback: per question the points, the rubric items applied and the comment."""
    from autograder.feedback import untrusted_text

    lines = ["", "## Written answers", "",
             f"Written score: **{fmt_points(row.written_score)} / {fmt_points(sum(q.points for q in questions))}**.", ""]
    for q in questions:
        score = row.written[q.name]
        lines.append(f"- **{q.name}**: {fmt_points(score.points)} / {fmt_points(q.points)}")
        known = {i.id: i for i in q.rubric}
        for item in score.items:
            lines.append(f"  - {known[item].label} ({known[item].points:+g}): {known[item].comment}")
        if score.comment:
            lines.append(f"  - TA: {untrusted_text(score.comment)}")
    return "\n".join(lines) + "\n"


def add_feedback(questions: list[WrittenQuestion], rows: list[FinalRow], folder: Path) -> int:
    """Append the written part to each submission's feedback file (made by ``grade --feedback-dir``)."""
    from autograder.feedback import feedback_name

    folder.mkdir(parents=True, exist_ok=True)
    marker = "\n## Written answers\n"
    for row in rows:
        path = folder / feedback_name(row.submission)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        text = text.split(marker)[0].rstrip("\n") + "\n" if marker in text else text  # a rerun replaces it
        write_atomically(path, text + feedback_section(questions, row))
    return len(rows)


def item_counts(questions: list[WrittenQuestion], rows: list[FinalRow]) -> dict[str, list[tuple[str, int]]]:
    """Per question, the rubric items applied, most often first."""
    out = {}
    for q in questions:
        counts = Counter(i for r in rows for i in r.written[q.name].items)
        labels = {i.id: i.label for i in q.rubric}
        out[q.name] = [(f"{item} — {labels.get(item, '')}", n) for item, n in counts.most_common()]
    return out


def report_html(assignment: Assignment, questions: list[WrittenQuestion], rows: list[FinalRow]) -> str:
    """Written and autograded scores side by side, and the rubric items applied most often."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autograder.report import html_table, png_data

    auto = [float(r.auto["score"] or 0) for r in rows]
    written = [r.written_score for r in rows]
    auto_max = max((float(r.auto["max_score"] or 0) for r in rows), default=0.0)
    written_max = sum(q.points for q in questions)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter([100 * a / (auto_max or 1) for a in auto], [100 * w / (written_max or 1) for w in written], alpha=0.6)
    ax.set_xlabel("autograded (% of points)")
    ax.set_ylabel("written (% of points)")
    ax.set_xlim(-5, 105)
    ax.set_ylim(-5, 105)
    ax.set_title("Written vs autograded, per submission")
    scatter = png_data(fig)
    means = [["autograded", fmt_points(sum(auto) / len(auto)) if auto else "–", fmt_points(auto_max)],
             ["written", fmt_points(sum(written) / len(written)) if written else "–", fmt_points(written_max)]]
    per_question = [[q.name, fmt_points(sum(r.written[q.name].points for r in rows) / len(rows)) if rows else "–",
                     fmt_points(q.points)] for q in questions]
    items = item_counts(questions, rows)
    sections = "".join(f"<h3>{html.escape(q.name)}</h3>"
                       + (html_table(["rubric item", "submissions"], [[i, str(n)] for i, n in items[q.name][:8]])
                          if items[q.name] else "<p>No rubric item applied.</p>") for q in questions)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(assignment.name)} — written and autograded</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}</style></head><body>
<h1>{html.escape(assignment.name)} — written and autograded scores</h1>
<h2>Means</h2>{html_table(["part", "mean", "out of"], means)}
<img id="written-vs-auto" alt="written vs autograded" src="{scatter}">
<h2>Written questions</h2>{html_table(["question", "mean", "out of"], per_question)}
<h2>Rubric items applied most often</h2>{sections}
</body></html>
"""
