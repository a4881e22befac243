"""Grading a whole class: parallel workers, a journal to resume from, the gradebook.

Every finished submission is appended to a journal (``<out>.journal.jsonl``, one
fsync'ed JSON line each) and to the gradebook CSV as one whole line.  Rerunning
the same command reads the journal, rewrites the CSV from it atomically (so an
interrupted run leaves no torn or duplicated row behind), and grades only the
submissions that are new, changed, or were graded under another plan.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.grade import Limits, Result, grade_submission
from autograder.plan import GradingPlan
from autograder.sandbox import Sandbox, make_sandbox
from autograder.workers import Worker


def find_submissions(paths: list[Path]) -> list[Path]:
    """Notebooks and zips named directly or found (recursively) in folders, sorted."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in (".ipynb", ".zip")
                            and ".ipynb_checkpoints" not in q.parts and q.is_file())
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


def load_journal(path: Path, fingerprint: str) -> dict[str, tuple[str, Result]]:
    """Finished submissions under this plan: path → (file digest, result); the last entry wins."""
    done: dict[str, tuple[str, Result]] = {}
    if not path.exists():
        return done
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            if entry["fingerprint"] == fingerprint:
                done[entry["key"]] = (entry["sha256"], Result.from_dict(entry["result"]))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from an interrupted run
    return done


def gradebook_header(plan: GradingPlan) -> list[str]:
    return ["submission", "status", "score", "max_score", *plan.question_ids]


def gradebook_row(result: Result, plan: GradingPlan) -> list[str]:
    return [result.submission, result.status, fmt_points(result.score), fmt_points(result.max_score),
            *(fmt_points(result.scores[q]) for q in plan.question_ids)]


def fmt_points(x: float) -> str:
    return f"{x:.6g}"


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_gradebook(results: list[Result], plan: GradingPlan, out: Path) -> None:
    """The spec's CSV: submission, status, score, max_score, then one column per question."""
    write_atomically(out, _csv_text([gradebook_header(plan)] + [gradebook_row(r, plan) for r in results]))


class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, total: int, *, enabled: bool = True):
        self.total, self.done, self.start, self.enabled = total, 0, time.monotonic(), enabled
        self.tty = sys.stderr.isatty()
        self._last_line = -1

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled or self.total == 0:
            return
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        width = 30
        bar = "#" * (width * self.done // self.total)
        line = f"[{bar:<{width}}] {self.done}/{self.total}  {rate:5.1f}/s  {Path(label).name[:40]}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(100) + ("\n" if self.done == self.total else ""))
        elif self.done * 10 // self.total != self._last_line or self.done == self.total:
            self._last_line = self.done * 10 // self.total
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


PlanFor = Callable[[Path], "tuple[GradingPlan, list[str]]"]


def grade_batch(paths: list[Path], plan: GradingPlan, *, out: Path, jobs: int | None = None,
                limits: Limits | None = None, sandbox: Sandbox | None = None, fresh: bool = False,
                progress: bool = True, on_result=None, plan_for: PlanFor | None = None) -> list[Result]:
    """Grade every submission under ``paths`` into ``out``; resumable; returns results in path order.

    ``plan_for`` picks a plan per submission (per-student variants) and may flag it;
    by default every submission is graded against ``plan``.
    """
    sandbox = sandbox or make_sandbox("auto")
    submissions = find_submissions(paths)
    plans = {str(p): plan_for(p) if plan_for else (plan, []) for p in submissions}
    journal = journal_path(out)
    if fresh and journal.exists():
        journal.unlink()
    done = {fp: load_journal(journal, fp) for fp in {pl.fingerprint for pl, _ in plans.values()}}
    digests = {str(p): _digest(p) for p in submissions}
    results: dict[str, Result] = {}
    for key, (own_plan, _) in plans.items():
        sha, result = done[own_plan.fingerprint].get(key, (None, None))
        if result is not None and sha == digests[key]:
            results[key] = result
    write_gradebook([results[str(p)] for p in submissions if str(p) in results], plan, out)
    todo = [p for p in submissions if str(p) not in results]
    bar = Progress(len(todo), enabled=progress)
    lock = threading.Lock()
    local = threading.local()
    workers: list[Worker] = []

    def grade_one(path: Path) -> None:
        if not hasattr(local, "worker"):
            local.worker = Worker(sandbox=sandbox)
            with lock:
                workers.append(local.worker)
        own_plan, flags = plans[str(path)]
        result = grade_submission(path, own_plan, worker=local.worker, limits=limits)
        result.flags = flags
        entry = json.dumps({"fingerprint": own_plan.fingerprint, "key": str(path), "sha256": digests[str(path)],
                            "result": result.to_dict()})
        with lock:
            with open(journal, "a") as f:
                f.write(entry + "\n")
                f.flush()
                os.fsync(f.fileno())
            with open(out, "a", newline="") as f:
                f.write(_csv_text([gradebook_row(result, plan)]))
            results[str(path)] = result
            if on_result:
                on_result(result)
            bar.step(str(path))

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            for future in [pool.submit(grade_one, p) for p in todo]:
                future.result()
    finally:
        for worker in workers:
            worker.close()
    ordered = [results[str(p)] for p in submissions]
    write_gradebook(ordered, plan, out)
    return ordered


def grade_paths(paths: list[Path], plan: GradingPlan, *, jobs: int | None = None,
                limits: Limits | None = None, sandbox: Sandbox | None = None) -> list[Result]:
    """Grade without a gradebook on disk (tests, one-off checks)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return grade_batch(paths, plan, out=Path(tmp) / "grades.csv", jobs=jobs, limits=limits, sandbox=sandbox,
                           progress=False)
