"""Grading a whole class: parallel workers, a journal to resume from, the gradebook.

Every finished submission is appended to a journal (``<out>.journal.jsonl``, one
fsync'ed JSON line each) and to the gradebook CSV as one whole line.  Rerunning
the same command reads the journal, rewrites the CSV from it atomically (so an
interrupted run leaves no torn or duplicated row behind), and grades only the
submissions that are new, changed, or were graded under another plan.

Ctrl-C stops dispatching, kills the sandboxes of the submissions in flight (their
results are dropped, not journaled, so the rerun grades them) and raises
:class:`BatchInterrupted` with what was graded, after writing the gradebook.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from autograder.grade import Limits, Result, grade_submission
from autograder.plan import GradingPlan
from autograder.sandbox import Sandbox, make_sandbox
from autograder.submissions import digest, find_submissions, label, printable
from autograder.workers import Worker

__all__ = ["BatchInterrupted", "find_submissions", "grade_batch", "grade_paths", "journal_path", "load_journal",
           "write_gradebook"]
STRAGGLER_SECONDS = 2.0  # after Ctrl-C, how long to keep closing workers while the cut-off threads wind down


class BatchInterrupted(Exception):
    """Ctrl-C: the results journaled so far (in path order), the keys still to grade, and the total."""

    def __init__(self, results: list[Result], pending: list[str], total: int):
        super().__init__(f"interrupted: {len(results)} of {total} graded")
        self.results, self.pending, self.total = results, pending, total


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


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8", errors="backslashreplace")  # a stray surrogate never aborts a write
    os.replace(tmp, path)


def write_gradebook(results: list[Result], plan: GradingPlan, out: Path) -> None:
    """The spec's CSV: submission, status, score, max_score, then one column per question."""
    write_atomically(out, csv_text([gradebook_header(plan)] + [gradebook_row(r, plan) for r in results]))


class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, total: int, *, enabled: bool = True):
        self.total, self.done, self.start, self.enabled = total, 0, time.monotonic(), enabled
        self.tty = sys.stderr.isatty()
        self._last_line = -1

    def step(self, shown: str) -> None:
        """One more submission done; ``shown`` is its label (escaped again here: this goes to a terminal)."""
        self.done += 1
        if not self.enabled or self.total == 0:
            return
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        width = 30
        bar = "#" * (width * self.done // self.total)
        line = f"[{bar:<{width}}] {self.done}/{self.total}  {rate:5.1f}/s  {printable(Path(shown).name[:40], keep='')}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(100) + ("\n" if self.done == self.total else ""))
        elif self.done * 10 // self.total != self._last_line or self.done == self.total:
            self._last_line = self.done * 10 // self.total
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        """End the bar's line if the batch stopped before the bar was full (Ctrl-C)."""
        if self.enabled and self.tty and 0 < self.done < self.total:
            sys.stderr.write("\n")
            sys.stderr.flush()


PlanFor = Callable[[Path], "tuple[GradingPlan, list[str]]"]


def grade_batch(paths: list[Path], plan: GradingPlan, *, out: Path, jobs: int | None = None,
                limits: Limits | None = None, sandbox: Sandbox | None = None, fresh: bool = False,
                progress: bool = True, on_result: Callable[[Result], object] | None = None,
                plan_for: PlanFor | None = None, announce: Callable[[str], object] | None = None) -> list[Result]:
    """Grade every submission under ``paths`` into ``out``; resumable; returns results in path order.

    ``plan_for`` picks a plan per submission (per-student variants) and may flag it;
    by default every submission is graded against ``plan``.  ``announce`` receives a
    line for the person at the console (what a rerun resumes).  Raises
    :class:`BatchInterrupted` after Ctrl-C, with the gradebook written.
    """
    stop = threading.Event()
    with _sigint_sets(stop):
        sandbox = sandbox or make_sandbox("auto")
        submissions = find_submissions(paths)
        plans = {str(p): plan_for(p) if plan_for else (plan, []) for p in submissions}
        journal = journal_path(out)
        if fresh and journal.exists():
            journal.unlink()
        results = _resumed(submissions, plans, journal)
        _end_torn_line(journal)
        write_gradebook([results[str(p)] for p in submissions if str(p) in results], plan, out)
        todo = [p for p in submissions if str(p) not in results]
        if results and announce:
            announce(f"resuming: {len(results)} of {len(submissions)} already graded; grading {len(todo)}")
        digests = {str(p): digest(p) for p in todo}
        bar = Progress(len(todo), enabled=progress)
        lock = threading.Lock()
        local = threading.local()
        workers: list[Worker] = []

        def grade_one(path: Path) -> None:
            key = str(path)
            if stop.is_set():
                return
            if not hasattr(local, "worker"):
                local.worker = Worker(sandbox=sandbox, runtime=plan.support)
                with lock:
                    workers.append(local.worker)
            own_plan, flags = plans[key]
            result = grade_submission(path, own_plan, worker=local.worker, limits=limits)
            result.flags, result.key, result.submission = flags, key, label(path)
            entry = json.dumps({"fingerprint": own_plan.fingerprint, "key": key, "sha256": digests[key],
                                "result": result.to_dict()})
            with lock:
                if stop.is_set():
                    return  # cut off by Ctrl-C (its sandbox may have been killed mid-run): the rerun grades it
                _append(journal, entry + "\n", sync=True)
                _append(out, csv_text([gradebook_row(result, plan)]))
                results[key] = result
                if on_result:
                    on_result(result)
                bar.step(result.submission)

        try:
            _dispatch(todo, grade_one, max(1, jobs or os.cpu_count() or 1), stop, workers)
        finally:
            bar.finish()
        ordered = [results[str(p)] for p in submissions if str(p) in results]
        write_gradebook(ordered, plan, out)
        if stop.is_set() and len(ordered) < len(submissions):
            raise BatchInterrupted(ordered, [str(p) for p in submissions if str(p) not in results], len(submissions))
        return ordered


def _resumed(submissions: list[Path], plans: dict[str, tuple[GradingPlan, list[str]]],
             journal: Path) -> dict[str, Result]:
    """The journaled results still valid: same plan, same file content."""
    done = {fp: load_journal(journal, fp) for fp in {pl.fingerprint for pl, _ in plans.values()}}
    results: dict[str, Result] = {}
    for path in submissions:
        key = str(path)
        sha, result = done[plans[key][0].fingerprint].get(key, (None, None))
        if result is not None and sha == digest(path):
            result.key, result.submission = key, label(path)  # an older journal may hold the raw path
            results[key] = result
    return results


def _end_torn_line(journal: Path) -> None:
    """After a kill mid-write, end the torn last line, so that it does not swallow the next entry."""
    try:
        with open(journal, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
    except OSError:  # no journal yet, or an empty one
        return
    if torn:
        _append(journal, "\n", sync=True)


def _append(path: Path, text: str, *, sync: bool = False) -> None:
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def _dispatch(todo: list[Path], grade_one: Callable[[Path], None], jobs: int, stop: threading.Event,
              workers: list[Worker]) -> None:
    """Grade ``todo`` on ``jobs`` threads until all are done or ``stop`` is set, then close every worker.

    A thread takes its next submission only while ``stop`` is unset: that is what stops
    dispatching on Ctrl-C.  The main thread waits with a timeout, so that it notices
    ``stop``.  The threads are daemons: after Ctrl-C, one whose sandbox was killed
    under it may sit in a read until its own deadline, and must not hold up the exit.
    """
    pending = iter(todo)
    take = threading.Lock()
    faults: list[BaseException] = []

    def run() -> None:
        while not stop.is_set() and not faults:
            with take:
                path = next(pending, None)
            if path is None:
                return
            try:
                grade_one(path)
            except BaseException as exc:  # a fault of the grader itself (a full disk, say) ends the batch
                faults.append(exc)

    threads = [threading.Thread(target=run, name=f"grade-{k}", daemon=True) for k in range(min(jobs, len(todo)))]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set() and (alive := [t for t in threads if t.is_alive()]):
            alive[0].join(timeout=0.2)
    finally:
        _close_workers(workers, threads, stop)
    if faults:
        raise faults[0]


def _close_workers(workers: list[Worker], threads: list[threading.Thread], stop: threading.Event) -> None:
    """Close every worker (killing its sandbox).  After Ctrl-C, close them again while the cut-off
    threads wind down, for a while: one of them may just have started a fresh worker."""
    deadline = time.monotonic() + (STRAGGLER_SECONDS if stop.is_set() else float("inf"))
    while True:
        for worker in list(workers):
            worker.close()
        alive = [t for t in threads if t.is_alive()]
        if not alive or time.monotonic() > deadline:
            return
        alive[0].join(timeout=0.5)


@contextmanager
def _sigint_sets(stop: threading.Event) -> Iterator[None]:
    """While grading, Ctrl-C sets ``stop`` instead of raising ``KeyboardInterrupt`` at some random line."""
    # only the main thread may set handlers; and a process started with Ctrl-C ignored
    # (a background job of a script) keeps ignoring it
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def grade_paths(paths: list[Path], plan: GradingPlan, *, jobs: int | None = None,
                limits: Limits | None = None, sandbox: Sandbox | None = None) -> list[Result]:
    """Grade without a gradebook on disk (tests, one-off checks)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return grade_batch(paths, plan, out=Path(tmp) / "grades.csv", jobs=jobs, limits=limits, sandbox=sandbox,
                           progress=False)
