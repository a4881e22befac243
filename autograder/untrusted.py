"""The untrusted phase: a warm worker that forks one child per submission.

Started as a script from a scratch folder that holds only this file and
``runtime.py`` (no reference package, no checks, no expected values)::

    python -I untrusted.py

It imports NumPy and matplotlib once, then reads job files, one path per line,
on stdin.  For each it forks a child that applies the job's resource limits,
runs the notebook's code cells, calls the student's functions and writes JSON
lines to the job's ``out`` file as it goes (a child that dies midway keeps what
it had done): first ``{"cells": ...}``, then one ``{"id": ..., "out": ...}`` per
call.  The worker answers ``pid <pid>`` when the child starts and
``done <pid> <wait status>`` when it ends; the grader kills a child that runs
past its time by its process group.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
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
    """A stand-in for ``otter``: ``grader = otter.Notebook(...)`` and ``grader.check(...)``
    cost nothing while grading (the checks run in the trusted process instead)."""

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


def code_cells(nb: dict) -> list[str]:
    return [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
            for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]


def _apply_limits(limits: dict) -> None:
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails instead of killing


def _to_devnull() -> None:
    """The student's prints and the worker's pipes must not mix."""
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    os.close(fd)


def run_job(job: dict) -> None:
    """In the forked child: run one submission and write its results."""
    os.chdir(job["folder"])
    with open(job["notebook"]) as f:
        cells = code_cells(json.load(f))
    out = open(job["out"], "w", buffering=1)
    _to_devnull()
    _apply_limits(job["limits"])
    namespace: dict = {"__name__": "__main__"}
    out.write(json.dumps(run_cells(cells, namespace, job["cell_timeout"])) + "\n")
    for call in job["calls"]:
        if call.get("variable"):
            result = runtime.read_variable(namespace.get(call["func"]))
        else:
            result = runtime.call_student(namespace.get(call["func"]), call["args"], job["call_timeout"])
        out.write(json.dumps({"id": call["id"], "out": result}) + "\n")
    out.close()


def _preload() -> None:
    """Imports every submission needs, paid once per worker instead of once per child."""
    os.environ["MPLBACKEND"] = "Agg"
    if not os.access(os.environ.get("MPLCONFIGDIR", ""), os.W_OK):  # read-only inside the sandbox
        os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="matplotlib-")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.backends.backend_agg  # noqa: F401  (imported lazily otherwise, after the uid drop)
    import matplotlib.pyplot  # noqa: F401

    sys.modules["otter"] = _otter_stub()


def _become(uid: int) -> None:
    """Irrevocably drop to an unprivileged uid (only when the worker runs as root)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _reap(uid: int) -> None:
    """Kill every process ``uid`` still has (escaped children, fork bombs) and empty /tmp."""
    pid = os.fork()
    if pid == 0:
        try:
            _become(uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, except this one
            here = os.path.dirname(os.path.abspath(__file__))
            keep = {here, here + "-jobs"}  # this worker's own folders are mounted under /tmp
            for entry in os.scandir("/tmp"):
                if entry.path in keep:
                    continue
                try:
                    shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)
                except OSError:
                    pass
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def serve(uid: int | None) -> None:
    _preload()
    reply = sys.stdout
    for line in sys.stdin:
        with open(line.strip()) as f:
            job = json.load(f)
        pid = os.fork()
        if pid == 0:  # the child: never returns into this loop
            try:
                os.setsid()
                if uid is not None:
                    _become(uid)
                run_job(job)
                code = 0
            except BaseException:  # noqa: BLE001
                code = 70
            os._exit(code)  # skip teardown: student objects may misbehave in __del__
        reply.write(f"pid {pid}\n")
        reply.flush()
        _, status = os.waitpid(pid, 0)
        if uid is not None:
            _reap(uid)
        reply.write(f"done {pid} {status}\n")
        reply.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else None)
