"""One submission's untrusted job, driven from the trusted side.

The job's record stream is hostile input: it is read with size caps, every record
is checked against a strict schema and against the job's own order (cells
ascending, calls in plan order, each result once), and the time limits are
enforced from here, outside the student's process: a cell or a call that runs past
its limit (with its own alarm disabled, say) gets its worker killed, is marked
timed out, and the job is restarted in a fresh worker without it, so one hung
call costs that function, not the rest of the submission.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from autograder import runtime
from autograder.submissions import printable
from autograder.workers import Worker, WorkerDied

GRACE_SECONDS = 2.0  # the student's own alarm fires first; this is the outside backstop
START_SECONDS = 30.0  # from handing over the job to its first record
MAX_RECORD_BYTES = 6 * 2**20  # one output of MAX_ELEMENTS floats fits
MAX_STREAM_BYTES = 16 * 2**20  # a submission's records, all attempts together (an honest one sends < 1 MiB)
MAX_ATTEMPTS = 30
SETUP_FAILED = 71  # untrusted.SETUP_FAILED: the jail could not be built, no student code ran


@dataclass
class JobState:
    """What the untrusted phase of one submission produced so far, across attempts."""

    calls: list[dict]
    summary: dict = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # call id → the output as JSON text
    skip_cells: set[int] = field(default_factory=set)
    hung_funcs: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    received: int = 0  # bytes of records, over every attempt

    def remaining_calls(self) -> list[dict]:
        return [c for c in self.calls if c["id"] not in self.outputs and c["func"] not in self.hung_funcs]

    def mark_hung_call(self, call_id: str, seconds: float) -> None:
        func = next(c["func"] for c in self.calls if c["id"] == call_id)
        self.hung_funcs.add(func)
        for c in self.calls:
            if c["func"] == func:
                skipped = c["id"] != call_id
                out = runtime.timeout_output(seconds - GRACE_SECONDS, skipped=skipped)
                self.outputs.setdefault(c["id"], json.dumps(out))
        self.notes.append(f"`{func}` ran past its {seconds - GRACE_SECONDS:g} s limit and was stopped from outside")


class StreamError(Exception):
    """The record stream broke its schema, its order or its size limits."""


class RecordReader:
    """Splits relayed bytes into records and checks each against the job."""

    def __init__(self, job: dict, received: int = 0):
        self.ids = [c["id"] for c in job["calls"]]
        self.order = {cid: k for k, cid in enumerate(self.ids)}
        self.ncells = len(job["cells"])
        self.buffer = b""
        self.total = received
        self.last_cell = 0
        self.last_start = -1
        self.last_result = -1
        self.summarised = False  # cells first, then one summary, then the calls

    def feed(self, data: bytes) -> list[dict]:
        self.total += len(data)
        if self.total > MAX_STREAM_BYTES:
            raise StreamError("the notebook sent more output than allowed")
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if len(self.buffer) > MAX_RECORD_BYTES:
            raise StreamError("a returned value was far too large")
        return [self.check(line) for line in lines if line.strip()]

    def check(self, line: bytes) -> dict:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise StreamError("the grader's record channel received unreadable data (was it written to?)") from exc
        if not isinstance(record, dict):
            raise StreamError("the grader's record channel received unreadable data (was it written to?)")
        keys = set(record)
        if keys == {"cell"} and not self.summarised:
            return self._cell(record["cell"], record)
        if keys == {"cells", "errors", "timeouts"} and not self.summarised:
            self.summarised = True
            return _summary(record)
        if keys == {"call"} and self.summarised:
            k = self._index(record["call"])
            if k <= self.last_result or k <= self.last_start:  # forward only: no heartbeat can stretch a limit
                raise StreamError("calls out of order")
            self.last_start = k
            return record
        if keys == {"id", "out"} and self.summarised:
            k = self._index(record["id"])
            if k <= self.last_result or k < self.last_start:
                raise StreamError("results out of order")
            self.last_result = k
            return {"id": record["id"], "out": stored_output(record["out"])}
        raise StreamError("the grader's record channel received an unexpected record (was it written to?)")

    def next_call(self, k: int) -> tuple[str, object]:
        """The unit after call ``k`` (-1: after the cells): the next call, or the end of the job."""
        return ("call", self.ids[k + 1]) if k + 1 < len(self.ids) else ("end", None)

    def _cell(self, i: object, record: dict) -> dict:
        if type(i) is not int or not self.last_cell < i <= self.ncells:
            raise StreamError("cells out of order")
        self.last_cell = i
        return record

    def _index(self, call_id: object) -> int:
        if not isinstance(call_id, str) or call_id not in self.order:
            raise StreamError("unknown call")
        return self.order[call_id]


def _summary(record: dict) -> dict:
    cells, errors, timeouts = record["cells"], record["errors"], record["timeouts"]
    if type(cells) is not int or type(timeouts) is not int or not isinstance(errors, list) or len(errors) > 50:
        raise StreamError("malformed cell summary")
    for e in errors:
        if (not isinstance(e, dict) or set(e) != {"cell", "error"} or type(e["cell"]) is not int
                or not isinstance(e["error"], str) or len(e["error"]) > 300):
            raise StreamError("malformed cell summary")
    errors = [{"cell": e["cell"], "error": printable(e["error"], keep="")} for e in errors]
    return {"cells": cells, "errors": errors, "timeouts": timeouts}


def stored_output(out: object) -> str:
    """A valid output as compact JSON text (its size is bounded by the stream's, unlike the
    parsed objects'), or a small marker that makes the judge say why it could not be read."""
    try:
        return json.dumps(runtime.validate_output(out), separators=(",", ":"))
    except runtime.InvalidOutput as exc:
        return json.dumps({"t": "invalid", "why": str(exc)[:200]})


@dataclass
class Attempt:
    """How one run of the job in a worker ended."""

    end: str  # "exit", "hung", "budget", "stream", "died"
    code: int = 0
    unit: tuple[str, object] = ("start", None)
    seconds: float = 0.0


def run_attempt(worker: Worker, job: dict, state: JobState, limits, deadline: float) -> Attempt:
    """Run the job once, applying its records to ``state``; kills the worker unless it ended cleanly."""
    reader = RecordReader(job, state.received)
    unit: tuple[str, object] = ("start", None)
    limit = START_SECONDS
    due = time.monotonic() + limit
    try:
        worker.send(job)
        while True:
            event = worker.next_event(min(due, deadline))
            if event is None:
                worker.kill()
                end = "budget" if time.monotonic() >= deadline else "hung"
                return Attempt(end, unit=unit, seconds=limit)
            if event[0] == "exit":
                if worker.leftovers():  # impossible by construction; never trusted to be so
                    state.notes.append("processes left behind were killed")
                    worker.kill()
                return Attempt("exit", code=int(event[1]))
            records = reader.feed(event[1])
            state.received = reader.total
            for record in records:
                unit, limit = _apply(record, state, limits, reader)
                due = time.monotonic() + limit
    except StreamError as exc:
        worker.kill()
        state.notes.append(str(exc))
        return Attempt("stream")
    except WorkerDied:
        worker.kill()
        return Attempt("died")


def _apply(record: dict, state: JobState, limits, reader: RecordReader) -> tuple[tuple[str, object], float]:
    """Fold one record into the state; the unit now running and its time limit.  Between two
    calls only the runtime runs, so a hang there (a student's thread, say) counts against the
    next call: that function is skipped, the rest of the submission is still graded."""
    if "cell" in record:
        return ("cell", record["cell"]), limits.cell_seconds + GRACE_SECONDS
    if "cells" in record:
        state.summary = record
        return reader.next_call(-1), limits.call_seconds + GRACE_SECONDS
    if "call" in record:
        return ("call", record["call"]), limits.call_seconds + GRACE_SECONDS
    state.outputs.setdefault(record["id"], record["out"])
    return reader.next_call(reader.order[record["id"]]), limits.call_seconds + GRACE_SECONDS


def run_untrusted(cells: list[str], calls: list[dict], limits, worker: Worker) -> tuple[str, dict, dict[str, str],
                                                                                          list[str]]:
    """Run a submission's cells and calls; (status, cell summary, outputs by call id as JSON text, notes)."""
    state = JobState(calls)
    deadline = time.monotonic() + limits.submission_seconds
    status = "kernel-died"
    for _ in range(MAX_ATTEMPTS):
        job = {"cells": cells, "skip_cells": sorted(state.skip_cells), "calls": state.remaining_calls(),
               "limits": limits.rlimits(), "call_timeout": limits.call_seconds, "cell_timeout": limits.cell_seconds,
               "disk_bytes": limits.disk_bytes}
        attempt = run_attempt(worker, job, state, limits, deadline)
        if attempt.end == "exit" and attempt.code == SETUP_FAILED:
            return "error", state.summary, state.outputs, ["the sandbox could not be set up for this submission"]
        if attempt.end == "hung" and attempt.unit[0] == "cell":
            state.skip_cells.add(int(attempt.unit[1]))
            state.notes.append(f"cell {attempt.unit[1]} ran past its {attempt.seconds - GRACE_SECONDS:g} s limit "
                               "and was stopped from outside")
            continue
        if attempt.end == "hung" and attempt.unit[0] == "call":
            state.mark_hung_call(str(attempt.unit[1]), attempt.seconds)
            continue
        if attempt.end == "budget":
            state.notes.append(f"the submission ran past its {limits.submission_seconds:g} s in all")
            status = "timeout"
        elif attempt.end == "exit" and attempt.code == 0:
            status = "ok"
        elif attempt.end == "hung":
            state.notes.append("the notebook stopped responding and was stopped from outside")
        elif attempt.end == "died":
            state.notes.append("the sandbox ended unexpectedly")
        break
    complete = bool(state.summary) and all(c["id"] in state.outputs for c in calls)
    if status == "ok" and not complete:
        status = "kernel-died"  # the job ended (os._exit) before finishing its work
    timed_out = state.summary.get("timeouts") or any(json.loads(o).get("t") == "timeout" for o in state.outputs.values())
    if status in ("ok", "kernel-died") and complete and timed_out:
        status = "timeout"
    return status, state.summary, state.outputs, state.notes
