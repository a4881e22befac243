"""Warm untrusted workers, seen from the trusted side.

A :class:`Worker` starts ``untrusted.py`` (the zygote) in its sandbox from a scratch
folder that holds only that file and ``runtime.py``, then hands it one job at a
time on stdin and reads the job's framed records from stdout.  Nothing crosses
through files, so nothing the sandbox leaves on disk is ever opened here.

Every kill uses an identity the sandbox cannot forge: the worker's own process,
our child, which we have not reaped (so its PID cannot have been reused).  In
bubblewrap that kills the sandbox's PID namespace and every process in it; the
kernel's process table (``/proc``), never a PID the sandbox reported, then proves
that none is left.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from autograder.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
BOOT_SECONDS = 120.0
MAX_FRAME = 65536


class WorkerDied(Exception):
    """The worker process itself ended or broke its protocol."""


def _proc_table() -> dict[int, int]:
    """pid → parent pid of every live process visible here (zombies are dead: they hold nothing,
    and one whose parent died waits for an init that may never reap it)."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read(4096)
                state, ppid = stat.rpartition(b")")[2].split()[:2]
                if state not in (b"Z", b"X"):
                    table[int(entry.name)] = int(ppid)
            except (OSError, ValueError, IndexError):
                continue  # it ended while we looked
    return table


def descendants(root: int) -> set[int]:
    """Every process below ``root`` in the kernel's process tree."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _proc_table().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def members(namespace: str) -> list[int]:
    """Processes whose PID namespace is ``namespace`` (an ``ns/pid`` link text)."""
    return [pid for pid in _proc_table() if pid_namespace(pid) == namespace]


def _kill_below(root: int, pids: set[int]) -> None:
    """SIGKILL ``pids`` through pidfds, each only if it is still below ``root`` once its pidfd is
    open (a pidfd names one process for good, so a reused PID is never signalled)."""
    fds = {}
    for pid in pids:
        try:
            fds[pid] = os.pidfd_open(pid)
        except OSError:
            continue
    still = descendants(root)
    for pid, fd in fds.items():
        try:
            if pid in still:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(fd)


class Worker:
    """One warm zygote; not thread-safe (one per grading thread)."""

    def __init__(self, *, sandbox: Sandbox | None = None, runtime: str = ""):
        """``runtime``: the support file's text (the runtime plus the assignment's test functions);
        "" = the bare runtime."""
        self.sandbox = sandbox or Sandbox("none", drop_uid=False)
        self.claim = self.sandbox.new_uid()
        self.uid = self.claim.uid if self.claim else None
        self.home = Path(tempfile.mkdtemp(prefix="dlmath-worker-"))
        shutil.copy(HERE / "untrusted.py", self.home / "untrusted.py")
        (self.home / "runtime.py").write_text(runtime or (HERE / "runtime.py").read_text(encoding="utf-8"),
                                              encoding="utf-8")
        for name in ("untrusted.py", "runtime.py"):
            (self.home / name).chmod(0o644)
        self.home.chmod(0o755)  # the sandboxed uid reads these two files, nothing else
        self.proc: subprocess.Popen | None = None
        self._buffer = b""
        self._baseline: set[int] = set()
        self._namespace: str | None = None
        self._dead: list[subprocess.Popen] = []
        self.closed = False
        self._life = threading.RLock()  # start and close never interleave (Ctrl-C closes from another thread)

    # -- life cycle -------------------------------------------------------

    def start(self) -> None:
        """Start the zygote if it is not running; raises ``WorkerDied`` if it cannot boot."""
        with self._life:
            self._start()

    def _start(self) -> None:
        if self.closed:
            raise WorkerDied("the worker was closed")
        if self.proc is not None and self.proc.poll() is None:
            return
        self.kill()
        self._close_dead()  # here, in the thread that owns this worker, nothing waits on them
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": str(self.home), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = self.sandbox.command(home=self.home, script=self.home / "untrusted.py", uid=self.uid)
        self.proc = subprocess.Popen(cmd, cwd=self.home, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._buffer = b""
        if self._line(time.monotonic() + BOOT_SECONDS) != b"ready":
            self.kill()
            raise WorkerDied("the worker did not start")
        self._baseline = descendants(self.proc.pid)
        # the sandbox's PID namespace, read off the kernel's table: every process of it dies with it
        self._namespace = pid_namespace(min(self._baseline)) if self.sandbox.isolates and self._baseline else None

    def send(self, job: dict) -> None:
        """Hand the worker one job (trusted data: calls, cells, limits)."""
        self.start()
        assert self.proc and self.proc.stdin
        try:
            payload = json.dumps(job).encode()
            self.proc.stdin.write(b"job %d\n" % len(payload) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.kill()
            raise WorkerDied("the worker is gone") from exc

    def kill(self) -> None:
        """Kill the worker and everything in its sandbox; prove that nothing is left."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        inner = descendants(proc.pid)
        _kill_below(proc.pid, inner)  # outside bubblewrap: children that left the worker's session
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # our child's own session: its pid is not reused yet
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()
        # The pipes stay open until the worker object goes: another thread (Ctrl-C) may be waiting
        # on them, and a closed descriptor number could be reused by an unrelated file meanwhile.
        self._dead.append(proc)
        self._wait_gone(inner)

    def _wait_gone(self, inner: set[int]) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = set(members(self._namespace)) if self._namespace else inner & set(_proc_table())
            if not alive:
                return
            time.sleep(0.02)
        raise RuntimeError(f"processes of a killed sandbox survive: {sorted(alive)[:10]}")

    def leftovers(self) -> set[int]:
        """Processes below the worker that were not there when it booted (none, after a job)."""
        if self.proc is None:
            return set()
        return descendants(self.proc.pid) - self._baseline

    def close(self) -> None:
        """Kill the worker for good and remove its folder (any thread may call this)."""
        self.closed = True
        self.kill()  # not under the lock: it ends a boot that another thread is waiting on
        with self._life:
            self.kill()
            if self.claim:
                self.claim.release()
                self.claim = None
            shutil.rmtree(self.home, ignore_errors=True)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  interpreter shutdown
            pass
        self._close_dead()

    def _close_dead(self) -> None:
        for proc in self._dead:
            for stream in (proc.stdin, proc.stdout):
                if stream:
                    stream.close()
        self._dead.clear()

    # -- reading ----------------------------------------------------------

    def _fill(self, deadline: float) -> bool:
        """Read more bytes into the buffer; False at the deadline; raises ``WorkerDied`` at EOF."""
        proc = self.proc  # another thread may kill the worker (Ctrl-C): then this read fails cleanly
        try:
            fd = proc.stdout.fileno()
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    return False
            chunk = os.read(fd, 1 << 20)
        except (AttributeError, ValueError, OSError) as exc:
            raise WorkerDied("the worker was stopped") from exc
        if not chunk:
            raise WorkerDied("the worker ended")
        self._buffer += chunk
        return True

    def _line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            if len(self._buffer) > 64 or not self._fill(deadline):
                return None if len(self._buffer) <= 64 else self._protocol_error()
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _protocol_error(self):
        self.kill()
        raise WorkerDied("the worker broke its protocol")

    def next_event(self, deadline: float) -> tuple[str, bytes | int] | None:
        """``("data", bytes)``, ``("exit", code)`` or ``None`` at the deadline."""
        header = self._line(deadline)
        if header is None:
            return None
        kind, _, value = header.partition(b" ")
        if not value.isdigit() or kind not in (b"d", b"x"):
            self._protocol_error()
        if kind == b"x":
            return ("exit", int(value))
        size = int(value)
        if size > MAX_FRAME:
            self._protocol_error()
        while len(self._buffer) < size:
            if not self._fill(time.monotonic() + 30):  # the zygote writes a frame at once
                self._protocol_error()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return ("data", data)
