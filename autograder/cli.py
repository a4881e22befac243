"""``autograder`` command line: a thin layer over the library's plain functions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.assignment import list_assignments, load_assignment
from autograder.batch import grade_batch
from autograder.build import build
from autograder.feedback import write_feedback
from autograder.grade import Limits
from autograder.report import write_report
from autograder.roster import write_roster_gradebook
from autograder.sandbox import make_sandbox


def _cmd_build(args: argparse.Namespace) -> int:
    names = [args.assignment] if args.assignment else list_assignments()
    for name in names:
        out = build(load_assignment(name), dist=Path(args.dist) if args.dist else None)
        print(f"{name}: student notebook {out.student_notebook}")
        print(f"{name}: autograder zip   {out.autograder_zip}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    plan = load_assignment(args.assignment).plan
    limits = Limits(call_seconds=args.call_timeout, submission_seconds=args.timeout)
    feedback = Path(args.feedback_dir) if args.feedback_dir else None
    out = Path(args.out)
    results = grade_batch([Path(p) for p in args.paths], plan, out=out, jobs=args.jobs, limits=limits,
                          sandbox=make_sandbox(args.sandbox), fresh=args.fresh, progress=not args.quiet,
                          on_result=(lambda r: write_feedback(r, feedback)) if feedback else None)
    if feedback:  # also for results resumed from the journal
        for r in results:
            write_feedback(r, feedback)
    if args.roster:
        roster_out = out.with_name(out.stem + "-roster.csv")
        write_roster_gradebook(Path(args.roster), results, plan, roster_out)
        print(f"wrote the roster gradebook to {roster_out}")
    if args.report:
        write_report(results, plan, Path(args.report))
        print(f"wrote the class report to {args.report}")
    if not args.quiet:
        for r in results:
            print(f"{r.status:>16}  {r.score:6.2f} / {r.max_score:g}  {r.submission}")
    print(f"wrote {len(results)} rows to {out}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autograder", description="Build and grade deep-learning-math assignments.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the student notebook and otter autograder zip")
    b.add_argument("--assignment", help="one assignment (default: every one under assignments/)")
    b.add_argument("--dist", help="output folder (default: dist/)")
    b.set_defaults(run=_cmd_build)
    g = sub.add_parser("grade", help="grade submissions without Docker (resumable)")
    g.add_argument("--assignment", required=True)
    g.add_argument("--out", required=True, help="gradebook CSV to write")
    g.add_argument("--jobs", type=int, default=None, help="parallel workers (default: every core)")
    g.add_argument("--timeout", type=float, default=300.0, help="seconds per submission")
    g.add_argument("--call-timeout", type=float, default=10.0, help="seconds per function call")
    g.add_argument("--feedback-dir", help="write one Markdown feedback file per submission here")
    g.add_argument("--roster", help="CSV with student_id (and optionally submission) columns")
    g.add_argument("--report", help="write the class report (HTML) here")
    g.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                   help="isolate student code with bubblewrap (auto: when it works here)")
    g.add_argument("--fresh", action="store_true", help="ignore the journal of an earlier run and regrade all")
    g.add_argument("--quiet", action="store_true", help="no progress bar and no per-submission lines")
    g.add_argument("paths", nargs="+", help="notebooks, otter export zips, or folders of them")
    g.set_defaults(run=_cmd_grade)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
