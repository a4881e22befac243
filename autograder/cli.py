"""``autograder`` command line: a thin layer over the library's plain functions."""

from __future__ import annotations

import argparse
import shutil
import sys
import traceback
from pathlib import Path

from autograder.assignment import PROJECT_ROOT, Assignment, knob_values, list_assignments, load_assignment
from autograder.batch import BatchInterrupted, find_submissions, grade_batch, write_atomically
from autograder.build import MasterExecutionError, build
from autograder.errors import UserError
from autograder.feedback import write_feedback
from autograder.grade import Limits, Result
from autograder.gradebook import add_feedback, csv_text, roster_table, write_final
from autograder.gradebook import report_html as gradebook_report
from autograder.plan import GradingPlan
from autograder.report import write_report
from autograder.roster import nothing_graded, owners, read_roster, write_roster_gradebook
from autograder.sandbox import make_sandbox
from autograder.scaffold import new_assignment
from autograder.submissions import printable
from autograder.variants import SecretVariants, new_variant, read_secret, self_check, student_notebooks
from autograder.written import write_written


def _cmd_build(args: argparse.Namespace) -> int:
    names = [args.assignment] if args.assignment else list_assignments()
    for name in names:
        out = build(load_assignment(name), dist=Path(args.dist) if args.dist else None)
        print(f"{name}: student notebook {out.student_notebook}")
        print(f"{name}: autograder zip   {out.autograder_zip}")
        print(f"{name}: solutions page   {out.solutions_html} (for staff; release after the deadline)")
    return 0


def _settings(pairs: list[str], base: Assignment) -> dict:
    """``--set KEY=VALUE`` pairs, checked against the knobs ``base`` declares."""
    chosen = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {pair!r}: expected KEY=VALUE")
        chosen[key.strip()] = value.strip()
    values = knob_values(base.knobs, chosen, "--set")
    return {k: values[k] for k in chosen}


def _cmd_variant_new(args: argparse.Namespace) -> int:
    base = load_assignment(args.base)
    if base.base:
        raise UserError(f"{args.base} is itself a variant (of {base.base}); use --base {base.base}")
    name = args.name or f"{args.base}-{args.seed}"
    knobs = _settings(args.set or [], base)
    include = args.include.split(",") if args.include else None
    known = [c.qid for c in base.module.CHECKS]
    unknown = sorted(set(include or []) - set(known))
    if unknown:
        raise UserError(f"--include: {base.name} has no question {unknown[0]!r}")
    if args.numeric:
        if not base.numeric:
            raise UserError(f"--numeric: {base.name} declares no numeric sub-question")
        chosen = set(include or base.question_ids) | set(base.numeric)
        include = [q for q in dict.fromkeys(known) if q in chosen]
    path = new_variant(base=args.base, name=name, seed=args.seed, knobs=knobs, include=include)
    print(f"wrote {path}; checking it (build, solution, blank, wrong-answer catalogue) ...")
    try:
        report = self_check(load_assignment(name), seeds=VARIANT_SEEDS)
        print(report.summary())
        ok = report.ok
    except (MasterExecutionError, UserError) as exc:  # the variant is broken: say why, then clean up
        print(f"{name}: FAILED\n{exc}")
        ok = False
    if not ok:
        if not args.keep:
            shutil.rmtree(path.parent)
            print(f"removed {path.parent} (use --keep to keep a failing variant)")
        return 1
    return 0


def _cmd_variant_students(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    template = Path(args.dist or PROJECT_ROOT / "dist") / args.assignment / "student" / f"{args.assignment}.ipynb"
    if not template.exists():
        build(assignment, dist=Path(args.dist) if args.dist else None)
    ids = [row["student_id"] for row in read_roster(Path(args.roster))]
    paths = student_notebooks(assignment, read_secret(Path(args.secret_file)), ids, template=template,
                              out=Path(args.out))
    print(f"wrote {len(paths)} student notebooks under {args.out}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    plan = assignment.plan
    plan_for = None
    if args.secret_file:
        submissions = [str(p) for p in find_submissions([Path(p) for p in args.paths])]
        known = owners(read_roster(Path(args.roster)), submissions) if args.roster else {}
        plan_for = SecretVariants(assignment, read_secret(Path(args.secret_file)), known).plan_for
    limits = Limits(call_seconds=args.call_timeout, submission_seconds=args.timeout)
    feedback = Path(args.feedback_dir) if args.feedback_dir else None
    out = Path(args.out)
    interrupted: BatchInterrupted | None = None
    try:
        results = grade_batch([Path(p) for p in args.paths], plan, out=out, jobs=args.jobs, limits=limits,
                              sandbox=make_sandbox(args.sandbox), fresh=args.fresh, progress=not args.quiet,
                              plan_for=plan_for, announce=_tell,
                              on_result=(lambda r: write_feedback(r, feedback, plan)) if feedback else None)
    except BatchInterrupted as exc:  # Ctrl-C: write everything for what was graded, then say how to resume
        interrupted, results = exc, exc.results
    _write_outputs(args, results, plan, out, feedback, interrupted.pending if interrupted else None)
    if not args.quiet:
        for r in results:  # labels are escaped already; flags may quote a notebook's metadata
            print(printable(f"{r.status:>16}  {r.score:6.2f} / {r.max_score:g}  {r.submission}"
                            + "".join(f"\n{'':>18}FLAG: {printable(f, keep='')}" for f in r.flags)))
    print(f"wrote {len(results)} rows to {out}")
    if interrupted:
        _tell(f"interrupted: {len(results)} of {interrupted.total} graded; rerun the same command to resume")
        return 130
    return 0


def _tell(line: str) -> None:
    """A message for the person at the console (stderr, away from the results on stdout)."""
    print(printable(line), file=sys.stderr, flush=True)


def _write_outputs(args: argparse.Namespace, results: list[Result], plan: GradingPlan, out: Path,
                   feedback: Path | None, pending: list[str] | None) -> None:
    """Feedback, roster gradebook and report for ``results`` (after an interrupt: what was graded)."""
    if feedback:  # also for results resumed from the journal
        for r in results:
            write_feedback(r, feedback, plan)
    students = None  # the roster's students with no graded submission, for the report
    if args.roster:
        roster_out = out.with_name(out.stem + "-roster.csv")
        students = nothing_graded(write_roster_gradebook(Path(args.roster), results, plan, roster_out, pending))
        print(f"wrote the roster gradebook to {roster_out}")
    if args.report:
        write_report(results, plan, Path(args.report), students)
        print(f"wrote the class report to {args.report}")


def _cmd_written(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    out = Path(args.out)
    counts = write_written(assignment, [Path(p) for p in args.paths], out, names=args.names)
    print(f"{assignment.name}: {counts['submissions']} submissions, {counts['questions']} written questions; "
          f"{counts['blank']} blank answers pre-scored 0, {counts['duplicates']} answers flagged as duplicates")
    print(f"wrote {out / 'index.html'}, one page per question, and {out / 'scores.csv'} to fill in")
    return 0


def _cmd_gradebook(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    out = Path(args.out)
    questions, rows, table = write_final(assignment, Path(args.auto), Path(args.written), out)
    print(f"wrote {len(rows)} rows to {out}")
    if args.roster:
        roster_out = out.with_name(out.stem + "-roster.csv")
        write_atomically(roster_out, csv_text(roster_table(read_roster(Path(args.roster)), table)))
        print(f"wrote the roster gradebook to {roster_out}")
    if args.feedback_dir:
        n = add_feedback(questions, rows, Path(args.feedback_dir))
        print(f"added the written part to {n} feedback files in {args.feedback_dir}")
    if args.report:
        write_atomically(Path(args.report), gradebook_report(assignment, questions, rows))
        print(f"wrote the report to {args.report}")
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    written = new_assignment(args.name)
    root = PROJECT_ROOT
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"next: autograder check --assignment {args.name}   (then edit, and check again)")
    return 0


VARIANT_SEEDS = 20  # a variant's solution is also run on this many other seeds


def _cmd_check(args: argparse.Namespace) -> int:
    assignment = load_assignment(args.assignment)
    print(f"checking {args.assignment}: build (executes the master), solution, blank notebook, "
          f"wrong-answer catalogue, correct styles, {args.seeds} seeds ...")
    try:
        report = self_check(assignment, dist=Path(args.dist) if args.dist else None, seeds=args.seeds)
    except MasterExecutionError as exc:  # a false claim or a bug in the master: the cell and its error
        print(f"{args.assignment}: FAILED\n{exc}")
        return 1
    print(report.summary())
    return 0 if report.ok else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autograder", description="Build and grade deep-learning-math assignments.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the student notebook and otter autograder zip")
    b.add_argument("--assignment", help="one assignment (default: every one under assignments/)")
    b.add_argument("--dist", help="output folder (default: dist/)")
    b.set_defaults(run=_cmd_build)
    wr = sub.add_parser("written", help="grading pages of the written answers, and scores.csv to fill in")
    wr.add_argument("--assignment", required=True)
    wr.add_argument("--out", required=True, help="folder for index.html, <question>.html and scores.csv")
    wr.add_argument("--names", action="store_true", help="show submission names instead of anonymous codes")
    wr.add_argument("paths", nargs="+", help="notebooks, otter export zips, or folders of them")
    wr.set_defaults(run=_cmd_written)
    gb = sub.add_parser("gradebook", help="merge autograded and written scores into the final gradebook")
    gb.add_argument("--assignment", required=True)
    gb.add_argument("--auto", required=True, help="the gradebook CSV written by `grade`")
    gb.add_argument("--written", required=True, help="scores.csv from `written`, filled in")
    gb.add_argument("--out", required=True, help="final gradebook CSV to write")
    gb.add_argument("--roster", help="also write the per-student view (<out>-roster.csv)")
    gb.add_argument("--feedback-dir", help="add the written scores, rubric items and comments to the feedback files")
    gb.add_argument("--report", help="write a report of written and autograded scores side by side (HTML)")
    gb.set_defaults(run=_cmd_gradebook)
    w = sub.add_parser("new", help="scaffold a working assignment (one example question) to edit")
    w.add_argument("name", help="lower-case letters, digits and '_'; also its reference package's name")
    w.set_defaults(run=_cmd_new)
    c = sub.add_parser("check", help="prove an assignment before release (exit 0 only if every part holds)")
    c.add_argument("--assignment", required=True)
    c.add_argument("--seeds", type=int, default=50, help="other seeds on which the solution must pass every case")
    c.add_argument("--dist", help="build into this folder (default: dist/)")
    c.set_defaults(run=_cmd_check)
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
    g.add_argument("--secret-file", help="course secret: grade per-student variants and flag mismatches")
    g.set_defaults(run=_cmd_grade)
    v = sub.add_parser("variant", help="make and check variants").add_subparsers(dest="variant", required=True)
    n = v.add_parser("new", help="write a new variant of an assignment and self-check it")
    n.add_argument("--base", required=True, help="the assignment to vary")
    n.add_argument("--seed", type=int, required=True)
    n.add_argument("--name", help="default: <base>-<seed>")
    n.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a knob the base declares (see its YAML; repeat for several)")
    n.add_argument("--include", help="comma-separated question ids (default: all of the base)")
    n.add_argument("--numeric", action="store_true", help="add the numeric sub-questions the base declares")
    n.add_argument("--keep", action="store_true", help="keep the variant even if its self-check fails")
    n.set_defaults(run=_cmd_variant_new)
    st = v.add_parser("students", help="one notebook per student, numbers from HMAC(secret, student id)")
    st.add_argument("--assignment", required=True)
    st.add_argument("--roster", required=True)
    st.add_argument("--secret-file", required=True)
    st.add_argument("--out", required=True)
    st.add_argument("--dist", help="where the assignment was built (default: dist/)")
    st.set_defaults(run=_cmd_variant_students)
    return p


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a name the terminal's encoding lacks must not abort the run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:  # Ctrl-C outside grading (grading itself handles it): no traceback
        _tell("interrupted")
        return 130
    except UserError as exc:  # the user's mistake: what and where, no traceback
        _tell(f"autograder: {exc}")
        return 2
    except Exception:  # the traceback may quote a submission's name: escape it for the terminal
        _tell(traceback.format_exc())
        return 1


if __name__ == "__main__":
    sys.exit(main())
