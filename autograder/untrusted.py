"""The untrusted phase: run a student notebook and call its functions.

Run as a script in its own process, from a scratch folder that holds only this
file and ``runtime.py`` (no reference package, no checks, no expected values)::

    python -I untrusted.py job.json

``job.json`` names the notebook, the calls to make (function name and plain-data
arguments) and the time limits.  Results are written as JSON lines to the job's
``out`` file as they are made, so that a process that dies midway keeps what it
had done: first ``{"cells": ...}``, then one ``{"id": ..., "out": ...}`` per call.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime  # noqa: E402  (the sibling copy of autograder/runtime.py)

_MAGIC = re.compile(r"^\s*[%!]")


def python_source(cell_source: str) -> str:
    """Drop IPython-only lines (``%magic``, ``!shell``) and cell magics' first line."""
    lines = cell_source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    return "\n".join("pass  # " + ln.strip() if _MAGIC.match(ln) else ln for ln in lines)


def _otter_stub() -> types.ModuleType:
    """A stand-in for ``otter`` so that ``grader = otter.Notebook(...)`` and
    ``grader.check(...)`` cost nothing while grading."""

    class Notebook:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    module = types.ModuleType("otter")
    module.Notebook = Notebook
    return module


def run_cells(cells: list[str], namespace: dict, cell_timeout: float) -> dict:
    """Execute code cells in order; an error in one cell does not stop the next."""
    errors, timeouts = [], 0
    for i, source in enumerate(cells):
        try:
            code = compile(python_source(source), f"<cell {i + 1}>", "exec")
            with runtime.time_limit(cell_timeout):
                exec(code, namespace)
        except runtime.CallTimeout:
            timeouts += 1
            errors.append({"cell": i + 1, "error": "timeout"})
        except SystemExit:
            pass  # IPython swallows sys.exit() in a cell; so do we
        except BaseException as exc:  # noqa: BLE001  student code may raise anything
            errors.append({"cell": i + 1, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    return {"cells": len(cells), "errors": errors[:50], "timeouts": timeouts}


def _silence_stdio(path: str) -> None:
    """Send the student's prints to a capped file, away from our pipes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main(job_path: str) -> None:
    with open(job_path) as f:
        job = json.load(f)
    with open(job["notebook"]) as f:
        nb = json.load(f)
    cells = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
             for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    out = open(job["out"], "w", buffering=1)
    _silence_stdio(job["stdout"])
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.modules["otter"] = _otter_stub()
    namespace: dict = {"__name__": "__main__"}
    summary = run_cells(cells, namespace, job["cell_timeout"])
    out.write(json.dumps(summary) + "\n")
    for call in job["calls"]:
        result = runtime.call_student(namespace.get(call["func"]), call["args"], job["call_timeout"])
        out.write(json.dumps({"id": call["id"], "out": result}) + "\n")
    out.close()
    os._exit(0)  # skip interpreter teardown: student objects may misbehave in __del__


if __name__ == "__main__":
    main(sys.argv[1])
