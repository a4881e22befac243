"""``autograder`` command line: a thin layer over ``build`` and ``grade``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.assignment import list_assignments, load_assignment
from autograder.build import build
from autograder.grade import Limits, feedback_markdown, feedback_name, grade_paths, write_gradebook


def _cmd_build(args: argparse.Namespace) -> int:
    names = [args.assignment] if args.assignment else list_assignments()
    for name in names:
        out = build(load_assignment(name), dist=Path(args.dist) if args.dist else None)
        print(f"{name}: student notebook {out.student_notebook}")
        print(f"{name}: autograder zip   {out.autograder_zip}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    limits = Limits(call_seconds=args.call_timeout, submission_seconds=args.timeout)
    results = grade_paths([Path(p) for p in args.paths], assignment, jobs=args.jobs, limits=limits)
    write_gradebook(results, assignment, Path(args.out))
    if args.feedback_dir:
        folder = Path(args.feedback_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for r in results:
            (folder / feedback_name(r.submission)).write_text(feedback_markdown(r))
    for r in results:
        print(f"{r.status:>16}  {r.score:6.2f} / {r.max_score:g}  {r.submission}")
    print(f"wrote {len(results)} rows to {args.out}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autograder", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the student notebook and otter autograder zip")
    b.add_argument("--assignment", help="one assignment (default: every one under assignments/)")
    b.add_argument("--dist", help="output folder (default: dist/)")
    b.set_defaults(run=_cmd_build)
    g = sub.add_parser("grade", help="grade submissions without Docker")
    g.add_argument("--assignment", required=True)
    g.add_argument("--out", required=True, help="gradebook CSV to write")
    g.add_argument("--jobs", type=int, default=None, help="parallel workers (default: every core)")
    g.add_argument("--timeout", type=float, default=300.0, help="seconds per submission")
    g.add_argument("--call-timeout", type=float, default=10.0, help="seconds per function call")
    g.add_argument("--feedback-dir", help="write one Markdown feedback file per submission here")
    g.add_argument("paths", nargs="+", help="notebooks, otter export zips, or folders of them")
    g.set_defaults(run=_cmd_grade)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
