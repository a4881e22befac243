"""``autograder new NAME``: a working assignment to start from.

It writes one example question, complete: the master (prompt, solution, a written part with
a worked solution and a numerical check), its check, its reference in ``reference/<NAME>/``,
a wrong-answer catalogue, a correct style and a knob.  It builds, checks and grades as it
is, so an instructor changes a working assignment rather than starting from a blank page.
"""

from __future__ import annotations

import re
from pathlib import Path

from autograder.assignment import PROJECT_ROOT
from autograder.errors import UserError

TEMPLATE = Path(__file__).with_name("templates") / "new"
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,39}")  # also the name of its reference package


def destinations(name: str, root: Path) -> dict[Path, Path]:
    """Each template file → where it goes."""
    folder = root / "assignments" / name
    out = {}
    for src in sorted(p for p in TEMPLATE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = src.relative_to(TEMPLATE)
        if rel.parts[0] == "reference":
            out[src] = root / "reference" / name / Path(*rel.parts[1:])
        elif rel == Path("assignment.yaml"):
            out[src] = folder / f"{name}.yaml"
        else:
            out[src] = folder / rel
    return out


def new_assignment(name: str, *, root: Path | None = None) -> list[Path]:
    """Write the example assignment ``name``; returns the files written."""
    root = root or PROJECT_ROOT
    if not IDENTIFIER.fullmatch(name):
        raise UserError(f"{name!r}: an assignment's name is lower-case letters, digits and '_', starting with a "
                        "letter (it also names its reference package, reference.<name>)")
    taken = [p for p in (root / "assignments" / name, root / "reference" / name) if p.exists()]
    if taken:
        raise UserError(f"{taken[0]} exists already; choose another name")
    written = []
    for src, dst in destinations(name, root).items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text(encoding="utf-8").replace("__NAME__", name), encoding="utf-8")
        written.append(dst)
    return written
