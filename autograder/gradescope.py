"""The two-phase grader inside the Gradescope autograder zip.

``add_two_phase_grader`` rewrites the zip that ``otter assign`` made: it adds the
grading code (no ``reference/``, no check definitions) and ``plan.json``, whose
expectations were computed from the reference at build time, and replaces
``run_autograder`` so that Gradescope runs ``python -m autograder.gradescope``
instead of otter's in-kernel tests.  Gradescope's layout: the zip is unpacked in
``/autograder/source``, the submission is in ``/autograder/submission`` and the
results go to ``/autograder/results/results.json``.  ``AUTOGRADER_ROOT`` moves
that root (for testing on a laptop).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from autograder.batch import find_submissions
from autograder.grade import Result, grade_submission
from autograder.plan import GradingPlan
from autograder.submissions import printable

HERE = Path(__file__).resolve().parent
SHIPPED = ["__init__.py", "runtime.py", "untrusted.py", "workers.py", "jobs.py", "grade.py", "plan.py", "batch.py",
           "submissions.py", "gradescope.py", "sandbox.py", "support.py", "errors.py"]

RUN_AUTOGRADER = """#!/usr/bin/env bash
# dlmath-autograder: two-phase grading. Student code runs in a forked, resource-limited
# child that cannot see plan.json's expectations; judging happens outside it.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
if [ -z "${DLMATH_PYTHON:-}" ] && [ -d /root/miniforge3 ]; then
  export PATH=/root/miniforge3/bin:$PATH
  eval "$(mamba shell hook --shell bash)"
  mamba activate otter-env
fi
PYTHONPATH="$ROOT/source/dlmath" exec "${DLMATH_PYTHON:-python}" -m autograder.gradescope --root "$ROOT"
"""


SETUP_SANDBOX = b"""
# dlmath-autograder: bubblewrap sandboxes the student's code where the image allows namespaces
apt-get install -y bubblewrap || true
"""


def add_two_phase_grader(zip_path: Path, plan: GradingPlan) -> None:
    """Put the grader and the plan into the otter autograder zip, in place."""
    with zipfile.ZipFile(zip_path) as old:
        entries = [(info, old.read(info)) for info in old.infolist() if info.filename != "run_autograder"]
    entries = [(info, data + SETUP_SANDBOX if info.filename == "setup.sh" else data) for info, data in entries]
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in entries:
            new.writestr(info, data)
        script = zipfile.ZipInfo("run_autograder")
        script.external_attr = 0o100755 << 16
        new.writestr(script, RUN_AUTOGRADER)
        for name in SHIPPED:
            new.write(HERE / name, f"dlmath/autograder/{name}")
        new.writestr("dlmath/plan.json", plan.to_json())
    tmp.replace(zip_path)


def pick_submission(folder: Path, plan: GradingPlan) -> Path | None:
    """The notebook (or export zip) a student uploaded; prefer ``<assignment>.ipynb``."""
    found = find_submissions([folder])
    preferred = [p for p in found if p.name == f"{plan.name}.ipynb"]
    notebooks = [p for p in found if p.suffix == ".ipynb"]
    return (preferred or notebooks or found or [None])[0]


def results_json(result: Result, plan: GradingPlan) -> dict:
    """Gradescope's format: public checks visible now, per-question detail after publication."""
    public = [v for v in result.feedback if not v["hidden"]]
    public_lines = [f"{v['qid']}: {'passed' if v['passed'] else printable(v['message'], keep='')}" for v in public]
    tests = [{"name": "Public checks", "visibility": "visible", "score": 0, "max_score": 0,
              "output": f"{sum(v['passed'] for v in public)} of {len(public)} public checks passed.\n"
                        + "\n".join(line for line in public_lines if not line.endswith("passed"))}]
    if result.status != "ok":
        tests.append({"name": "Grading status", "visibility": "visible", "score": 0, "max_score": 0,
                      "output": f"status: {result.status}. {printable(result.message, keep='')}".strip()})
    for qid in plan.question_ids:
        failed = [printable(v["message"], keep="") for v in result.feedback if v["qid"] == qid and not v["passed"]]
        tests.append({"name": qid, "score": result.scores[qid], "max_score": plan.points[qid],
                      "visibility": "after_published",
                      "output": "All checks passed." if not failed else "\n".join(dict.fromkeys(failed))})
    for test in tests:
        test["output_format"] = "text"  # student text inside is shown as text, never rendered as HTML or Markdown
    return {"score": result.score, "tests": tests, "stdout_visibility": "hidden"}


def run(root: Path) -> dict:
    plan = GradingPlan.from_file(root / "source" / "dlmath" / "plan.json")
    path = pick_submission(root / "submission", plan)
    if path is None:
        zero = {q: 0.0 for q in plan.question_ids}
        result = Result("(none)", "invalid-notebook", zero, plan.max_score, message="no notebook was submitted")
    else:
        result = grade_submission(path, plan)
    data = results_json(result, plan)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade the Gradescope submission with the two-phase grader.")
    parser.add_argument("--root", default="/autograder")
    run(Path(parser.parse_args(argv).root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
