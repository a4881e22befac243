"""Map submissions to students and list the students who submitted nothing.

A roster is a CSV with a ``student_id`` column and, optionally, a ``submission``
column (a file name or path suffix).  Without one, a submission belongs to a
student when the id is a whole token of its file name (``s123_hw0.ipynb``) or
the name of a folder on its path (``submissions/s123/hw0.ipynb``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from autograder.batch import _csv_text, gradebook_row, write_atomically
from autograder.batch import fmt_points as _fmt
from autograder.grade import Result
from autograder.plan import GradingPlan


def read_roster(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]
    if not rows or "student_id" not in rows[0]:
        raise ValueError(f"{path}: a roster needs a 'student_id' column")
    return [r for r in rows if r["student_id"]]


def _belongs(student: dict[str, str], submission: str) -> bool:
    if student.get("submission"):
        return submission == student["submission"] or submission.endswith("/" + student["submission"])
    p = Path(submission)
    tokens = set(re.split(r"[^A-Za-z0-9@.+-]+", p.stem)) | set(p.parent.parts)
    return student["student_id"] in tokens


def owners(roster: list[dict[str, str]], submissions: list[str]) -> dict[str, str]:
    """Submission path → the id of the one roster student it belongs to (ambiguous ones are left out)."""
    found = {}
    for s in submissions:
        ids = [st["student_id"] for st in roster if _belongs(st, s)]
        if len(ids) == 1:
            found[s] = ids[0]
    return found


def _latest(paths: list[str]) -> str:
    return max(paths, key=lambda s: (Path(s).stat().st_mtime if Path(s).exists() else 0.0, s))


def roster_rows(roster: list[dict[str, str]], results: list[Result], plan: GradingPlan) -> list[list[str]]:
    """One row per student (``missing`` when nothing matched), then unmatched submissions."""
    by_path = {r.submission: r for r in results}
    header = ["student_id", "submission", "status", "score", "max_score", *plan.question_ids, "flags"]
    rows, used = [header], set()
    for student in roster:
        mine = [s for s in by_path if _belongs(student, s)]
        if not mine:
            rows.append([student["student_id"], "", "missing", "0", _fmt(plan.max_score)]
                        + ["0"] * len(plan.question_ids) + [""])
            continue
        chosen = by_path[_latest(mine)]
        used.update(mine)
        rows.append([student["student_id"], *gradebook_row(chosen, plan), "; ".join(chosen.flags)])
    for r in results:
        if r.submission not in used:
            rows.append(["", *gradebook_row(r, plan), "; ".join(r.flags)])
    return rows


def write_roster_gradebook(roster_csv: Path, results: list[Result], plan: GradingPlan, out: Path) -> None:
    write_atomically(out, _csv_text(roster_rows(read_roster(roster_csv), results, plan)))
