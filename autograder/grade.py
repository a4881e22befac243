"""Two-phase grading of one submission, without Docker.

Untrusted phase: a warm worker (``workers.py`` → ``untrusted.py``) forks a child
that runs the notebook and sends back plain JSON outputs.  Trusted phase (here):
the outputs are judged with ``runtime.judge_case`` against the plan's
expectations, computed from ``reference/`` in a process where no student code
ever ran.  ``grade_submission`` never raises: every submission yields a result.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import runtime
from autograder.plan import GradingPlan
from autograder.sandbox import Sandbox, make_sandbox
from autograder.workers import Worker

STATUSES = ("ok", "timeout", "invalid-notebook", "kernel-died", "error")
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass
class Limits:
    """Resource limits of the untrusted phase."""

    call_seconds: float = 10.0
    cell_seconds: float = 60.0
    submission_seconds: float = 300.0
    memory_bytes: int = 2 * 2**30
    file_bytes: int = 64 * 2**20
    processes: int = 64

    def rlimits(self) -> dict[str, int]:
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_CORE": 0,
                "RLIMIT_NPROC": self.processes, "RLIMIT_CPU": int(self.submission_seconds) + 5}


@dataclass
class Result:
    """One submission's row, with per-case verdicts for feedback and the report."""

    submission: str
    status: str
    scores: dict[str, float]
    max_score: float
    feedback: list[dict] = field(default_factory=list)
    message: str = ""
    flags: list[str] = field(default_factory=list)  # for course staff, e.g. a notebook copied from another student

    @property
    def score(self) -> float:
        return round(sum(self.scores.values()), 6)

    def to_dict(self) -> dict:
        return {"submission": self.submission, "status": self.status, "scores": self.scores,
                "max_score": self.max_score, "feedback": self.feedback, "message": self.message, "flags": self.flags}

    @classmethod
    def from_dict(cls, d: dict) -> Result:
        return cls(d["submission"], d["status"], d["scores"], d["max_score"], d["feedback"], d["message"],
                   d.get("flags", []))


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
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidNotebook(f"the notebook is not valid JSON ({str(exc)[:100]})") from exc
    _validate(nb)
    return nb


def _validate(nb: object) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("the file is JSON but not a notebook (no list of cells)")
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), (str, list)):
            raise InvalidNotebook("a cell of the notebook is malformed")
        if isinstance(cell.get("source"), list) and not all(isinstance(s, str) for s in cell["source"]):
            raise InvalidNotebook("a cell of the notebook is malformed")
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    info = meta.get("language_info") if isinstance(meta.get("language_info"), dict) else {}
    language = str(spec.get("language") or info.get("name") or "python")
    if language.lower() != "python":
        raise InvalidNotebook(f"the notebook's kernel language is {language!r}, not Python")


def run_untrusted(nb: dict, plan: GradingPlan, limits: Limits, worker: Worker) -> tuple[str, dict, dict[str, dict]]:
    """Execute the notebook in a forked child; (status, cell summary, outputs by call id)."""
    folder = worker.new_job_folder()
    try:
        (folder / "submission.ipynb").write_text(json.dumps(nb))
        job = {"folder": str(folder), "notebook": str(folder / "submission.ipynb"),
               "out": str(folder / "results.jsonl"), "calls": plan.calls(), "limits": limits.rlimits(),
               "call_timeout": limits.call_seconds, "cell_timeout": limits.cell_seconds}
        (folder / "job.json").write_text(json.dumps(job))
        status = worker.run(folder / "job.json", limits.submission_seconds)
        summary, outputs = read_results(folder / "results.jsonl")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if status == "ok" and (not summary or len(outputs) < len(job["calls"])):
        status = "kernel-died"  # the child ended (os._exit) before finishing its work
    if status == "ok" and (summary.get("timeouts") or any(o.get("t") == "timeout" for o in outputs.values())):
        status = "timeout"
    return status, summary, outputs


def read_results(path: Path) -> tuple[dict, dict[str, dict]]:
    """Parse the child's JSON lines, tolerating a torn last line and junk."""
    summary: dict = {}
    outputs: dict[str, dict] = {}
    if not path.exists():
        return summary, outputs
    with open(path, errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                break  # a torn last line from a child that died mid-write
            if not isinstance(record, dict):
                continue
            if "cells" in record and not summary:
                summary = record
            elif isinstance(record.get("id"), str) and isinstance(record.get("out"), dict):
                outputs.setdefault(record["id"], record["out"])
    return summary, outputs


NOT_RUN = {"t": "error", "type": "GradingStopped",
           "message": "the notebook stopped (crash, time or memory limit) before this check ran"}


def alternative_messages(expect: dict) -> list[str]:
    """Every misconception message an expectation knows, nested tuples included."""
    found = [a["message"] for a in expect.get("alternatives", [])]
    for item in expect.get("items", []):
        found += alternative_messages(item)
    return found


def judge_all(plan: GradingPlan, outputs: dict[str, dict]) -> list[dict]:
    """Trusted phase: one verdict per case, naming the misconception when one matched."""
    verdicts = []
    for case in plan.cases:
        outs = [outputs.get(f"{case['id']}#{k}", NOT_RUN) for k in range(len(case["calls"]))]
        try:
            passed, message = runtime.judge_case(case, outs)
        except Exception as exc:  # malformed output data must not crash the batch
            passed, message = False, f"{case['label']}: the returned value could not be judged ({type(exc).__name__})."
        known = [m for m in alternative_messages(case["expect"]) if not passed and m in message]
        verdicts.append({"id": case["id"], "qid": case["qid"], "func": case["func"], "hidden": case["hidden"],
                         "points": case["points"], "passed": passed, "message": message,
                         "misconception": known[0] if known else None})
    return verdicts


def score_by_question(plan: GradingPlan, verdicts: list[dict]) -> dict[str, float]:
    scores = {q: 0.0 for q in plan.question_ids}
    for v in verdicts:
        if v["passed"]:
            scores[v["qid"]] += v["points"]
    return {q: round(s, 6) for q, s in scores.items()}


def grade_submission(path: Path, plan: GradingPlan, *, worker: Worker | None = None,
                     limits: Limits | None = None, sandbox: Sandbox | None = None) -> Result:
    """Grade one submission; never raises.  Without a ``worker``, starts one in ``sandbox``
    (default: bubblewrap when it works here)."""
    limits = limits or Limits()
    zero = {q: 0.0 for q in plan.question_ids}
    try:
        nb = read_notebook(path)
    except InvalidNotebook as exc:
        return Result(str(path), "invalid-notebook", zero, plan.max_score, message=str(exc))
    except OSError as exc:
        return Result(str(path), "error", zero, plan.max_score, message=f"cannot read: {exc}")
    own_worker = worker is None
    worker = worker or Worker(sandbox=sandbox or make_sandbox("auto"))
    try:
        status, summary, outputs = run_untrusted(nb, plan, limits, worker)
        verdicts = judge_all(plan, outputs)
    except Exception as exc:  # a grader fault still yields a row
        return Result(str(path), "error", zero, plan.max_score, message=f"{type(exc).__name__}: {exc}")
    finally:
        if own_worker:
            worker.close()
    message = "; ".join(f"cell {e['cell']}: {e['error']}" for e in summary.get("errors", [])[:5])
    return Result(str(path), status, score_by_question(plan, verdicts), plan.max_score,
                  feedback=verdicts, message=message)
