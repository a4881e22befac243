"""Two-phase grading without Docker.

Untrusted phase: ``untrusted.py`` runs the notebook in a child process whose
scratch folder holds only the runtime, and sends back plain JSON outputs.
Trusted phase (here): the outputs are judged with ``runtime.judge_case`` against
expectations computed from ``reference/`` in this process, where no student code
ever ran.  Every submission yields exactly one row, whatever it did.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import runtime
from autograder.assignment import Assignment

HERE = Path(__file__).resolve().parent
STATUSES = ("ok", "timeout", "invalid-notebook", "kernel-died", "error")
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass
class Limits:
    """Resource limits of the untrusted phase."""

    call_seconds: float = 10.0
    cell_seconds: float = 60.0
    submission_seconds: float = 300.0
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 16 * 2**20


@dataclass
class Result:
    """One submission's row, with per-case feedback for the student."""

    submission: str
    status: str
    scores: dict[str, float]
    max_score: float
    feedback: list[dict] = field(default_factory=list)
    message: str = ""

    @property
    def score(self) -> float:
        return round(sum(self.scores.values()), 6)


class InvalidNotebook(Exception):
    """The submission is not a readable Python notebook."""


def read_notebook(path: Path) -> dict:
    """The notebook JSON of an ``.ipynb`` file or of the one notebook in an otter export zip."""
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith(".ipynb")
                         and not n.startswith("__MACOSX") and "/." not in "/" + n]
                if not names:
                    raise InvalidNotebook("the zip holds no .ipynb notebook")
                info = zf.getinfo(sorted(names, key=lambda n: (n.count("/"), n))[0])
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    raise InvalidNotebook("the notebook is too large")
                raw = zf.read(info)
        except zipfile.BadZipFile as exc:
            raise InvalidNotebook(f"not a valid zip file: {exc}") from exc
    else:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise InvalidNotebook("the notebook is too large")
        raw = path.read_bytes()
    try:
        nb = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidNotebook(f"the notebook is not valid JSON ({exc})") from exc
    _validate(nb)
    return nb


def _validate(nb: object) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("the file is JSON but not a notebook (no list of cells)")
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), (str, list)):
            raise InvalidNotebook("a cell of the notebook is malformed")
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    language = str(spec.get("language") or meta.get("language_info", {}).get("name", "python"))
    if language.lower() != "python":
        raise InvalidNotebook(f"the notebook's kernel language is {language!r}, not Python")


def _limit_child(limits: Limits):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_untrusted(nb: dict, calls: list[dict], limits: Limits) -> tuple[str, dict, dict[str, dict]]:
    """Execute the notebook in a child process; (status, cell summary, outputs by call id)."""
    with tempfile.TemporaryDirectory(prefix="dlmath-grade-") as tmp:
        scratch = Path(tmp)
        for name in ("untrusted.py", "runtime.py"):
            shutil.copy(HERE / name, scratch / name)
        (scratch / "submission.ipynb").write_text(json.dumps(nb))
        job = {"notebook": str(scratch / "submission.ipynb"), "calls": calls,
               "out": str(scratch / "results.jsonl"), "stdout": str(scratch / "stdout.txt"),
               "call_timeout": limits.call_seconds, "cell_timeout": limits.cell_seconds}
        (scratch / "job.json").write_text(json.dumps(job))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": tmp, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-I", str(scratch / "untrusted.py"), str(scratch / "job.json")],
                                cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_limit_child(limits))
        try:
            code = proc.wait(timeout=limits.submission_seconds)
            status = "ok" if code == 0 else "kernel-died"
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            _kill_group(proc)
        summary, outputs = _read_results(scratch / "results.jsonl")
    if status == "ok" and summary.get("timeouts"):
        status = "timeout"
    if status == "ok" and any(o.get("t") == "timeout" for o in outputs.values()):
        status = "timeout"
    return status, summary, outputs


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_results(path: Path) -> tuple[dict, dict[str, dict]]:
    summary: dict = {}
    outputs: dict[str, dict] = {}
    if not path.exists():
        return summary, outputs
    with open(path, errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                break  # a torn last line from a process that died mid-write
            if not isinstance(record, dict):
                continue
            if "cells" in record and not summary:
                summary = record
            elif isinstance(record.get("id"), str) and isinstance(record.get("out"), dict):
                outputs.setdefault(record["id"], record["out"])
    return summary, outputs


def calls_of(cases: list[dict]) -> list[dict]:
    """The flat list of calls the untrusted phase must make, with ids ``<case id>#k``."""
    return [{"id": f"{case['id']}#{k}", "func": case["func"], "args": args}
            for case in cases for k, args in enumerate(case["calls"])]


NOT_RUN = {"t": "error", "type": "GradingStopped",
           "message": "the notebook stopped (crash, time or memory limit) before this check ran"}


def judge_all(cases: list[dict], outputs: dict[str, dict]) -> list[dict]:
    """Trusted phase: a verdict per case."""
    verdicts = []
    for case in cases:
        outs = [outputs.get(f"{case['id']}#{k}", NOT_RUN) for k in range(len(case["calls"]))]
        try:
            passed, message = runtime.judge_case(case, outs)
        except Exception as exc:  # malformed output data must not crash the batch
            passed, message = False, f"{case['label']}: the returned value could not be judged ({type(exc).__name__})."
        verdicts.append({"id": case["id"], "qid": case["qid"], "hidden": case["hidden"],
                         "points": case["points"], "passed": passed, "message": message})
    return verdicts


def score_by_question(assignment: Assignment, verdicts: list[dict]) -> dict[str, float]:
    scores = {q: 0.0 for q in assignment.question_ids}
    for v in verdicts:
        if v["passed"]:
            scores[v["qid"]] += v["points"]
    return {q: round(s, 6) for q, s in scores.items()}


def grade_submission(path: Path, assignment: Assignment, *, limits: Limits | None = None) -> Result:
    """Grade one submission; never raises."""
    limits = limits or Limits()
    zero = {q: 0.0 for q in assignment.question_ids}
    try:
        nb = read_notebook(path)
    except InvalidNotebook as exc:
        return Result(str(path), "invalid-notebook", zero, assignment.max_score, message=str(exc))
    except OSError as exc:
        return Result(str(path), "error", zero, assignment.max_score, message=f"cannot read: {exc}")
    try:
        cases = assignment.cases
        status, summary, outputs = run_untrusted(nb, calls_of(cases), limits)
        verdicts = judge_all(cases, outputs)
    except Exception as exc:  # a grader fault still yields a row
        return Result(str(path), "error", zero, assignment.max_score, message=f"{type(exc).__name__}: {exc}")
    message = "; ".join(f"cell {e['cell']}: {e['error']}" for e in summary.get("errors", [])[:5])
    return Result(str(path), status, score_by_question(assignment, verdicts), assignment.max_score,
                  feedback=verdicts, message=message)


def find_submissions(paths: list[Path]) -> list[Path]:
    """Notebooks and zips named directly or found (recursively) in folders, sorted."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in (".ipynb", ".zip")
                            and ".ipynb_checkpoints" not in q.parts and q.is_file())
        else:
            found.append(p)
    return found


def grade_paths(paths: list[Path], assignment: Assignment, *, jobs: int | None = None,
                limits: Limits | None = None) -> list[Result]:
    """Grade many submissions in parallel (one child process each)."""
    submissions = find_submissions(paths)
    _ = assignment.cases  # draw the cases once, before the threads start
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda p: grade_submission(p, assignment, limits=limits), submissions))


def write_gradebook(results: list[Result], assignment: Assignment, out: Path) -> None:
    """The spec's CSV: submission, status, score, max_score, then one column per question."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "status", "score", "max_score", *assignment.question_ids])
        for r in results:
            writer.writerow([r.submission, r.status, _fmt(r.score), _fmt(r.max_score),
                             *(_fmt(r.scores[q]) for q in assignment.question_ids)])


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def feedback_name(submission: str) -> str:
    """A file name unique to the submission's path: ``a/b/hw0.ipynb`` → ``a__b__hw0.md``."""
    parts = Path(submission).with_suffix("").parts
    return "__".join(p for p in parts if p not in ("/", "..", ".")) + ".md"


def feedback_markdown(result: Result) -> str:
    """Per-student feedback: every failed check with its teaching message."""
    lines = [f"# Feedback for {Path(result.submission).name}", "",
             f"Status: **{result.status}**. Autograded score: **{_fmt(result.score)} / {_fmt(result.max_score)}**.", ""]
    if result.message:
        lines += [f"Notes: {result.message}", ""]
    lines += ["| question | points |", "|---|---|"]
    lines += [f"| {q} | {_fmt(s)} |" for q, s in result.scores.items()]
    groups: dict[tuple[str, str], list[dict]] = {}
    for v in result.feedback:
        if not v["passed"]:
            groups.setdefault((v["qid"], v["message"].split("]: ", 1)[-1]), []).append(v)
    if groups:
        lines += ["", "## What to reconsider", ""]
        for (qid, message), failed in groups.items():
            where = failed[0]["message"].split(" [", 1)[0]
            more = f" (and {len(failed) - 1} more case{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
            lines.append(f"- **{qid}** `{where}`{more}: {message}")
    return "\n".join(lines) + "\n"
