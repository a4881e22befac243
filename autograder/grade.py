"""Two-phase grading of one submission, without Docker.

Untrusted phase: a warm worker (``workers.py`` → ``untrusted.py``) forks a child
that runs the notebook and sends back plain JSON outputs.  Trusted phase (here):
the outputs are judged with ``runtime.judge_case`` against the plan's
expectations, computed from ``reference/`` in a process where no student code
ever ran.  ``grade_submission`` never raises: every submission yields a result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.jobs import run_untrusted
from autograder.plan import GradingPlan
from autograder.sandbox import Sandbox, make_sandbox
from autograder.submissions import MAX_NOTEBOOK_BYTES, InvalidNotebook, printable, read_notebook  # noqa: F401
from autograder.workers import Worker

STATUSES = ("ok", "timeout", "invalid-notebook", "kernel-died", "error")


@dataclass
class Limits:
    """Resource limits of the untrusted phase."""

    call_seconds: float = 10.0
    cell_seconds: float = 60.0
    submission_seconds: float = 300.0
    memory_bytes: int = 2 * 2**30
    file_bytes: int = 64 * 2**20
    disk_bytes: int = 64 * 2**20  # the job's /tmp and /dev/shm, each (RAM-backed, gone with the job)
    processes: int = 64

    def rlimits(self) -> dict[str, int]:
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_CORE": 0,
                "RLIMIT_NOFILE": 256,  # kernel memory behind descriptors (socket buffers) counts in no other limit
                "RLIMIT_MEMLOCK": 0, "RLIMIT_MSGQUEUE": 0,
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
    key: str = ""  # the real path (str, undecodable bytes as surrogates); ``submission`` is its display label

    @property
    def score(self) -> float:
        return round(sum(self.scores.values()), 6)

    def to_dict(self) -> dict:
        return {"submission": self.submission, "status": self.status, "scores": self.scores,
                "max_score": self.max_score, "feedback": self.feedback, "message": self.message, "flags": self.flags,
                "key": self.key or self.submission}

    @classmethod
    def from_dict(cls, d: dict) -> Result:
        return cls(d["submission"], d["status"], d["scores"], d["max_score"], d["feedback"], d["message"],
                   d.get("flags", []), d.get("key", d["submission"]))  # older journals: submission was the path


def code_cells(nb: dict) -> list[str]:
    """The sources of the notebook's code cells, in order (the notebook was validated)."""
    sources = [c.get("source", "") for c in nb["cells"] if c.get("cell_type") == "code"]
    return [s if isinstance(s, str) else "".join(s) for s in sources]


NOT_RUN = {"t": "error", "type": "GradingStopped",
           "message": "the notebook stopped (crash, time or memory limit) before this check ran"}


def alternative_messages(expect: dict) -> list[str]:
    """Every misconception message an expectation knows, nested tuples included."""
    found = [a["message"] for a in expect.get("alternatives", [])]
    for item in expect.get("items", []):
        found += alternative_messages(item)
    return found


def judge_all(plan: GradingPlan, outputs: dict[str, str]) -> list[dict]:
    """Trusted phase: one verdict per case, naming the misconception when one matched.

    ``outputs`` holds each call's output as JSON text, parsed here one case at a time."""
    verdicts, rt = [], plan.runtime
    for case in plan.cases:
        outs = [json.loads(outputs[cid]) if cid in outputs else NOT_RUN
                for cid in (f"{case['id']}#{k}" for k in range(len(case["calls"])))]
        try:
            passed, message = rt.judge_case(case, outs)
        except Exception as exc:  # malformed output data must not crash the batch
            passed, message = False, f"{case['label']}: the returned value could not be judged ({type(exc).__name__})."
        known = [] if passed else [m for m in alternative_messages(case["expect"]) if judge_said(message, case, m)]
        verdicts.append({"id": case["id"], "qid": case["qid"], "func": case["func"], "hidden": case["hidden"],
                         "points": case["points"], "passed": passed, "message": printable(message, keep=""),
                         "misconception": known[0] if known else None})
    return verdicts


def judge_said(message: str, case: dict, misconception: str) -> bool:
    """Whether the judge itself named ``misconception`` (not text of the student's that quotes it):
    ``<label>: <misconception>``, or ``<label>: <tuple item>: <misconception>``."""
    rest = message.removeprefix(f"{case['label']}: ")
    item, _, tail = rest.partition(": ")
    return rest == misconception or (tail == misconception and item.isidentifier())


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
        cells = code_cells(read_notebook(path))  # only the sources stay in memory while grading
    except InvalidNotebook as exc:
        return Result(str(path), "invalid-notebook", zero, plan.max_score, message=str(exc))
    except OSError as exc:
        return Result(str(path), "error", zero, plan.max_score, message=f"cannot read: {exc}")
    own_worker = worker is None
    try:
        worker = worker or Worker(sandbox=sandbox or make_sandbox("auto"), runtime=plan.support)
        status, summary, outputs, notes = run_untrusted(cells, plan.calls(), limits, worker)
        verdicts = judge_all(plan, outputs)
    except Exception as exc:  # a grader fault still yields a row
        return Result(str(path), "error", zero, plan.max_score, message=f"{type(exc).__name__}: {exc}")
    finally:
        if own_worker and worker is not None:
            worker.close()
    message = "; ".join([*notes, *(f"cell {e['cell']}: {e['error']}" for e in summary.get("errors", [])[:5])])
    return Result(str(path), status, score_by_question(plan, verdicts), plan.max_score,
                  feedback=verdicts, message=message)
