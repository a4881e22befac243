"""Warm untrusted workers, seen from the trusted side.

A :class:`Worker` starts ``untrusted.py`` in a scratch folder that holds only that
file and ``runtime.py``, then hands it one job at a time.  The worker forks a
child per job, so NumPy and matplotlib are imported once per worker, not once per
submission.  A child that outlives its time is killed with its process group;
a worker that dies is replaced.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.sandbox import Sandbox

HERE = Path(__file__).resolve().parent


class WorkerDied(Exception):
    """The worker process itself ended (killed by a child, or crashed)."""


class Worker:
    """One warm ``untrusted.py`` process; not thread-safe (one per grading thread)."""

    def __init__(self, *, sandbox: Sandbox | None = None):
        self.sandbox = sandbox or Sandbox("none", drop_uid=False)
        self.claim = self.sandbox.new_uid()
        self.uid = self.claim.uid if self.claim else None
        self.home = Path(tempfile.mkdtemp(prefix="dlmath-worker-"))
        self.jobs = self.home.with_name(self.home.name + "-jobs")
        self.jobs.mkdir()
        for name in ("untrusted.py", "runtime.py"):
            shutil.copy(HERE / name, self.home / name)
            (self.home / name).chmod(0o644)
        for folder in (self.home, self.jobs):
            folder.chmod(0o755)  # the sandboxed uid reads these; jobs are chowned one by one
        self.proc: subprocess.Popen | None = None
        self._buffer = b""

    def new_job_folder(self) -> Path:
        """A fresh folder the sandboxed child may write to (and nothing else may see)."""
        folder = Path(tempfile.mkdtemp(dir=self.jobs))
        if self.uid is not None:
            os.chown(folder, self.uid, self.uid)
            folder.chmod(0o755)  # the worker, root without CAP_DAC_OVERRIDE, reads the job from it
        return folder

    def _start(self) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": str(self.home), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        launcher = self.sandbox.launcher(home=self.home, jobs=self.jobs)
        uid = [] if self.uid is None else [str(self.uid)]
        self.proc = subprocess.Popen([*launcher, sys.executable, "-I", str(self.home / "untrusted.py"), *uid],
                                     cwd=self.home, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._buffer = b""

    def _readline(self, deadline: float | None) -> str:
        """One line from the worker, or ``""`` at the deadline; raises ``WorkerDied`` at EOF."""
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(wait):
                    return ""
            chunk = os.read(fd, 4096)
            if not chunk:
                raise WorkerDied()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def run(self, job_path: Path, timeout: float) -> str:
        """Run one job; ``ok``, ``timeout`` or ``kernel-died``."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            assert self.proc and self.proc.stdin
            self.proc.stdin.write(f"{job_path}\n".encode())
            self.proc.stdin.flush()
            pid = int(self._readline(time.monotonic() + 60).split()[1])
            done = self._readline(time.monotonic() + timeout)
            if not done:
                _kill_group(pid)
                self._readline(time.monotonic() + 30)
                return "timeout"
            _kill_group(pid)  # whatever the child left running in its session
            status = int(done.split()[2])
            return "ok" if os.waitstatus_to_exitcode(status) == 0 else "kernel-died"
        except (WorkerDied, BrokenPipeError, IndexError, ValueError):
            self.close()
            return "kernel-died"

    def close(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc.pid)
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream:
                    stream.close()
            self.proc = None

    def __del__(self) -> None:
        self.close()
        if self.claim:
            self.claim.release()
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.jobs, ignore_errors=True)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
