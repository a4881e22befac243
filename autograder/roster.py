"""Map submissions to students and list the students who submitted nothing.

A roster is a CSV with a ``student_id`` column and, optionally, a ``submission``
column (a file name or path suffix).  Without one, a submission belongs to a
student when the id is a whole token of its file name (``s123_week3.ipynb``) or
the name of a folder on its path (``submissions/s123/week3.ipynb``).  Names are
chosen by students, so a student gets a submission only when the match is
unambiguous both ways (see :class:`Matching`); otherwise the student's row says
``ambiguous`` and names the candidates, and the TA settles it in the
``submission`` column.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.batch import csv_text, gradebook_row, write_atomically
from autograder.batch import fmt_points as _fmt
from autograder.errors import UserError
from autograder.grade import Result
from autograder.plan import GradingPlan
from autograder.submissions import label


def read_roster(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: cannot read the roster ({exc})") from exc
    if not rows or "student_id" not in rows[0]:
        raise UserError(f"{path}: a roster needs a 'student_id' column")
    return [r for r in rows if r["student_id"]]


def _named(name: str, shown: tuple[str, ...]) -> bool:
    """Whether a roster's ``submission`` entry names this file (by its real path or its label)."""
    return any(s == name or s.endswith("/" + name) for s in shown)


def _tokens(key: str) -> set[str]:
    """The words of the file name and the folders on the path: where a student id may appear."""
    p = Path(key)
    return set(re.split(r"[^A-Za-z0-9@.+-]+", p.stem)) | set(p.parent.parts)


@dataclass
class Matching:
    """Who handed in what.  A file name is chosen by its author, so a name that fits
    someone never settles it alone: ``s999_week3_s123.ipynb`` fits s123 as well as
    ``s123_week3.ipynb`` does.  A student owns a submission only when it is the one
    submission that fits them and it fits no one else."""

    owner: dict[str, str]  # submission key → student id
    candidates: dict[str, list[str]]  # student id → the submission keys that fit them, when none could be assigned
    contested: dict[str, list[str]]  # submission key → the students it fits, when it could not be assigned


def match(roster: list[dict[str, str]], keys: list[str]) -> Matching:
    """Apply the rule of :class:`Matching`; a file named in the ``submission`` column fits only who names it."""
    shown = {k: (k, label(k)) for k in keys}
    tokens = {k: _tokens(k) for k in keys}
    entries = {st["submission"] for st in roster if st.get("submission")}
    named = {k for k in keys if any(_named(e, shown[k]) for e in entries)}
    fits: dict[str, list[str]] = {}
    for st in roster:
        sid, entry = st["student_id"], st.get("submission")
        mine = [k for k in keys if _named(entry, shown[k])] if entry else \
            [k for k in keys if k not in named and sid in tokens[k]]
        fits[sid] = list(dict.fromkeys(fits.get(sid, []) + mine))
    whose: dict[str, list[str]] = {}
    for sid, mine in fits.items():
        for k in mine:
            whose.setdefault(k, []).append(sid)
    owner = {mine[0]: sid for sid, mine in fits.items() if len(mine) == 1 and whose[mine[0]] == [sid]}
    return Matching(owner, {sid: mine for sid, mine in fits.items() if mine and mine[0] not in owner},
                    {k: ids for k, ids in whose.items() if k not in owner})


def owners(roster: list[dict[str, str]], submissions: list[str]) -> dict[str, str]:
    """Submission path → the id of the roster student it is assigned to (ambiguous ones are left out)."""
    return match(roster, submissions).owner


RESOLVE = "add a 'submission' column to the roster naming the file to grade for each student concerned"


def _placeholder(shown: str, status: str, flag: str, plan: GradingPlan) -> list[str]:
    return [shown, status, "0", _fmt(plan.max_score), *["0"] * len(plan.question_ids), flag]


def _student_row(sid: str, m: Matching, key: str | None, by_key: dict[str, Result], plan: GradingPlan) -> list[str]:
    """The row of a student (without the id and the roster's own columns)."""
    if key in by_key:
        r = by_key[key]
        return [*gradebook_row(r, plan), "; ".join(r.flags)]
    if key is not None:
        return _placeholder(label(key), "pending", "not graded yet: the run was interrupted", plan)
    if sid in m.candidates:
        shown = ", ".join(label(k) for k in m.candidates[sid])
        return _placeholder("", "ambiguous", f"ambiguous, none assigned; candidates: {shown}; {RESOLVE}", plan)
    return _placeholder("", "missing", "", plan)


NOTHING_GRADED = ("missing", "ambiguous", "pending")  # a roster student's status when no submission of theirs was graded


def roster_columns(roster: list[dict[str, str]], taken: list[str]) -> list[tuple[str, str]]:
    """The roster's own columns besides ``student_id`` and ``submission`` (a name, an email, a section),
    in its order, as (column, heading); a heading that ``taken`` already uses gets ``roster_`` in front."""
    keys = list(dict.fromkeys(k for st in roster for k in st if k not in ("student_id", "submission")))
    return [(k, f"roster_{k}" if k in taken else k) for k in keys]


def roster_rows(roster: list[dict[str, str]], results: list[Result], plan: GradingPlan,
                pending: list[str] | None = None) -> list[list[str]]:
    """One row per student (``missing``, ``ambiguous``, ``pending`` when not graded), then unassigned submissions.

    The roster's other columns (``name``, ...) follow ``student_id``.  ``pending`` are the keys of
    submissions not graded yet (an interrupted run): they take part in the matching, so that it is
    the same as in a complete run.
    """
    by_key = {r.key or r.submission: r for r in results}
    m = match(roster, [*by_key, *(pending or [])])
    mine = {sid: key for key, sid in m.owner.items()}
    ours = ["submission", "status", "score", "max_score", *plan.question_ids, "flags"]
    extra = roster_columns(roster, ["student_id", *ours])
    header = ["student_id", *(heading for _, heading in extra), *ours]
    rows = [header] + [[st["student_id"], *(st.get(k, "") for k, _ in extra),
                        *_student_row(st["student_id"], m, mine.get(st["student_id"]), by_key, plan)]
                       for st in {st["student_id"]: st for st in roster}.values()]
    for key, r in by_key.items():
        if key not in m.owner:
            fits = m.contested.get(key)
            note = [f"not assigned: could be the submission of {', '.join(fits)}, but that is ambiguous; {RESOLVE}"] \
                if fits else []
            rows.append(["", *("" for _ in extra), *gradebook_row(r, plan), "; ".join([*r.flags, *note])])
    return rows


def nothing_graded(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """From :func:`roster_rows`: the roster students with no graded submission (missing, ambiguous,
    pending), as a header and rows: the id, the roster's own columns, the status and the note."""
    header = rows[0]
    status, first = header.index("status"), header.index("submission")
    keep = [*range(first), status, len(header) - 1]
    picked = [[row[i] for i in keep] for row in rows[1:] if row[0] and row[status] in NOTHING_GRADED]
    return [*(header[i] for i in keep[:-1]), "note"], picked


def write_roster_gradebook(roster_csv: Path, results: list[Result], plan: GradingPlan, out: Path,
                           pending: list[str] | None = None) -> list[list[str]]:
    """Write ``out`` (the roster gradebook); its rows, for the class report."""
    rows = roster_rows(read_roster(roster_csv), results, plan, pending)
    write_atomically(out, csv_text(rows))
    return rows
