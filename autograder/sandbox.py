"""The sandbox of the untrusted phase, built from bubblewrap (no Docker).

Inside it the worker sees a read-only, minimal file system: the system
directories, the Python installation and its site-packages, and its own folder
(``untrusted.py`` and ``runtime.py``).  Its jobs folder is the only writable place
besides a private ``/tmp``.  The project folder (``reference/``, the checks, the
dist with hidden tests), the grading plan and everything else on the host are not
there at all.  There is no network (a new network namespace: not even loopback
is up), a private PID, IPC and UTS namespace, and all capabilities but setuid and
setgid are dropped.  When the grader runs as root the worker forks each child
under its own unprivileged uid, so that the process limit is per worker and
everything that uid left behind can be killed after each submission.

``mode="auto"`` uses bubblewrap when it works on this machine and falls back to
plain processes with resource limits (and says so) when it does not, e.g. in a
container without user namespaces.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

FIRST_UID = 61000  # uids FIRST_UID + k, one per worker, are used for student code


@dataclass
class UidClaim:
    """A uid held through an exclusive lock file, so that two graders never share one
    (the worker kills every process of its uid after each submission)."""

    uid: int
    lock: IO

    def release(self) -> None:
        self.lock.close()


def claim_uid() -> UidClaim:
    folder = Path(tempfile.gettempdir())
    for k in range(1000):
        lock = open(folder / f".dlmath-uid-{FIRST_UID + k}.lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return UidClaim(FIRST_UID + k, lock)
        except BlockingIOError:
            lock.close()
    raise RuntimeError("no free sandbox uid (1000 workers already run on this machine)")


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bwrap" or "none"
    drop_uid: bool  # fork children under a per-worker unprivileged uid

    def new_uid(self) -> UidClaim | None:
        """A uid no other worker on this machine uses now (any grader process), or None."""
        return claim_uid() if self.drop_uid else None

    def launcher(self, *, home: Path, jobs: Path) -> list[str]:
        """The command prefix that starts the worker inside the sandbox."""
        if self.kind == "none":
            return []
        return bwrap_command(home=home, jobs=jobs, as_root=os.geteuid() == 0)


def _python_dirs() -> list[Path]:
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent}
    return sorted(d for d in dirs if d.exists())


def bwrap_command(*, home: Path, jobs: Path, as_root: bool) -> list[str]:
    cmd = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
           "--unshare-cgroup-try", "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"):
        cmd += ["--ro-bind-try", d, d]
    made: set[str] = set()
    for path, flag in [*[(p, "--ro-bind") for p in _python_dirs()], (home, "--ro-bind"), (jobs, "--bind")]:
        for parent in map(str, reversed(Path(path).parents)):
            if parent not in made and parent not in ("/", "/tmp") and not parent.startswith("/usr"):
                cmd += ["--perms", "0755", "--dir", parent]  # bwrap's default 0700 would lock out the uid
                made.add(parent)
        cmd += [flag, str(path), str(path)]
    if as_root:
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"]
    return cmd + ["--chdir", str(home)]


@lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether a bubblewrap sandbox can start a Python here (checked once)."""
    if shutil.which("bwrap") is None:
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    cmd = bwrap_command(home=probe, jobs=probe, as_root=os.geteuid() == 0)
    try:
        return subprocess.run([*cmd, sys.executable, "-I", "-c", "import numpy"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def make_sandbox(mode: str = "auto") -> Sandbox:
    """``auto`` (bubblewrap if it works, else none), ``bwrap`` (required) or ``none``."""
    if mode not in ("auto", "bwrap", "none"):
        raise ValueError(f"unknown sandbox mode {mode!r}")
    if mode == "none" or (mode == "auto" and not bwrap_works()):
        if mode == "auto":
            print("warning: bubblewrap is unavailable; student code runs without a sandbox "
                  "(resource limits only)", file=sys.stderr)
        return Sandbox("none", drop_uid=False)
    if not bwrap_works():
        raise RuntimeError("bubblewrap (bwrap) cannot create a sandbox on this machine")
    return Sandbox("bwrap", drop_uid=os.geteuid() == 0)
