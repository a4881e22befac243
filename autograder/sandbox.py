"""The sandbox of the untrusted phase, built from bubblewrap (no Docker).

Two layers.  A worker (the zygote, ``untrusted.py``) lives in a bubblewrap sandbox:
a read-only, minimal file system (the system directories, the Python installation
with its site-packages, and the worker's own two files), no network (a new network
namespace, not even loopback), private PID, IPC and UTS namespaces, and no
capabilities but the three it needs to build the inner layer.  Our own packages
(``reference``, ``autograder``) are masked wherever that Python could import them
from, so an installed wheel does not leak the reference.  Nothing on the host is
writable from inside: the sandbox's ``/tmp`` is a small tmpfs.

Each job then runs in a jail of its own (see ``untrusted.py``): new PID, mount and
IPC namespaces, a fresh size-limited ``/tmp`` and ``/dev/shm``, no capabilities
and, when the grader runs as root, the worker's unprivileged uid.  The job's
process is PID 1 of its namespace, so when it ends every process it started dies.

``mode="auto"`` uses bubblewrap when it works on this machine and falls back to
plain processes with resource limits (and says so) when it does not, e.g. in a
container without user namespaces.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

FIRST_UID = 61000  # uids FIRST_UID + k, one per live worker, run student code
OWN_PACKAGES = ("reference", "autograder")  # never importable by student code
SANDBOX_TMP_BYTES = 32 * 2**20  # the zygote's own /tmp (matplotlib's cache)
# Of the host's /etc, only what the dynamic linker and the C library read (not its keys and configs).
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
       "/etc/nsswitch.conf", "/etc/alternatives", "/etc/fonts")
POISON = "raise ImportError('this package is not available while grading')\n"


@dataclass
class UidClaim:
    """A uid held through an exclusive lock file, so that two workers never share one,
    even across grader processes (the per-uid process limit then counts one job)."""

    uid: int
    lock: IO

    def release(self) -> None:
        self.lock.close()


def claim_uid() -> UidClaim:
    folder = Path("/tmp")  # not $TMPDIR: every grader on this machine must see the same locks
    for k in range(1000):
        lock = open(folder / f".dlmath-uid-{FIRST_UID + k}.lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return UidClaim(FIRST_UID + k, lock)
        except BlockingIOError:
            lock.close()
    raise RuntimeError("no free sandbox uid (1000 workers already run on this machine)")


@dataclass(frozen=True)
class PythonLayout:
    """Where an interpreter lives and where it imports from (asked of the interpreter itself)."""

    executable: str
    dirs: tuple[str, ...]  # to bind read-only: its prefixes and site-packages (never a project folder)
    own_packages: tuple[str, ...] = field(default=())  # our packages it could import: masked


@lru_cache(maxsize=8)
def python_layout(executable: str) -> PythonLayout:
    probe = ("import importlib.util, json, os, sys\n"
             "found = []\n"
             f"for name in {OWN_PACKAGES!r}:\n"
             "    for entry in sys.path:\n"
             "        for cand in (os.path.join(entry or '.', name), os.path.join(entry or '.', name + '.py')):\n"
             "            if os.path.exists(cand): found.append(os.path.realpath(cand))\n"
             "    try:\n"
             "        spec = importlib.util.find_spec(name)\n"
             "    except Exception:\n"
             "        spec = None\n"
             "    if spec is not None:\n"
             "        found += [os.path.realpath(p) for p in (spec.submodule_search_locations or [])]\n"
             "        if spec.origin and os.path.exists(spec.origin): found.append(os.path.realpath(spec.origin))\n"
             "sites = [p for p in sys.path if os.path.basename(p) in ('site-packages', 'dist-packages')]\n"
             "print(json.dumps({'prefix': [sys.prefix, sys.base_prefix, sys.exec_prefix, *sites,"
             " os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))], 'own': found}))\n")
    out = subprocess.run([executable, "-I", "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    data = json.loads(out.stdout)
    dirs = sorted({os.path.realpath(d) for d in data["prefix"] if os.path.isdir(d)} - {"/"})
    dirs = [d for d in dirs if not any(d != o and d.startswith(o + "/") for o in dirs)]
    own = sorted(set(data["own"]))
    own = [o for o in own if not any(o.startswith(p + "/") for p in own)]  # a package's files go with it
    return PythonLayout(executable, tuple(dirs), tuple(own))


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bwrap" or "none"
    drop_uid: bool  # run student code under a per-worker unprivileged uid (the grader is root)
    python: str = sys.executable
    disk_bytes: int = 64 * 2**20  # each job's /tmp and /dev/shm

    @property
    def isolates(self) -> bool:
        """Whether each job gets its own namespaces (only inside bubblewrap)."""
        return self.kind == "bwrap"

    def new_uid(self) -> UidClaim | None:
        """A uid no other worker on this machine uses now (any grader process), or None."""
        return claim_uid() if self.drop_uid else None

    def command(self, *, home: Path, script: Path, uid: int | None) -> list[str]:
        """The command that starts the worker (inside the sandbox, if any)."""
        worker = [self.python, "-I", str(script)]
        if self.kind == "none":
            return worker
        worker += ["--isolate"] + (["--uid", str(uid)] if uid is not None else [])
        return [*bwrap_command(home=home, layout=python_layout(self.python), as_root=os.geteuid() == 0), *worker]


def _parents(path: str, made: set[str]) -> list[str]:
    """``--dir`` for each parent of a bound path not made yet (bwrap's default 0700 would
    lock out the unprivileged uid, so they are 0755)."""
    args = []
    for parent in map(str, reversed(Path(path).parents)):
        if parent not in made and parent not in ("/", "/tmp") and not parent.startswith("/usr"):
            args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
    return args


def bwrap_command(*, home: Path, layout: PythonLayout, as_root: bool) -> list[str]:
    cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
           "--unshare-uts", "--unshare-cgroup-try", "--proc", "/proc", "--dev", "/dev",
           "--perms", "1777", "--size", str(SANDBOX_TMP_BYTES), "--tmpfs", "/tmp"]
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", *ETC):
        cmd += ["--ro-bind-try", d, d]
    made: set[str] = set()
    for path in (*layout.dirs, str(home)):
        cmd += _parents(path, made) + ["--ro-bind", path, path]
    poison = _poison_package(home)
    for own in layout.own_packages:
        if any(own == d or own.startswith(d + "/") for d in layout.dirs):
            cmd += ["--ro-bind", str(poison if os.path.isdir(own) else poison / "__init__.py"), own]
    caps = ["--cap-add", "CAP_SYS_ADMIN"]  # for the job's namespaces and mounts; dropped before student code
    if as_root:
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", *caps]
    else:
        cmd += ["--unshare-user", "--cap-drop", "ALL", *caps]
    return cmd + ["--chdir", str(home)]


def _poison_package(home: Path) -> Path:
    """A package whose import fails, bound over each of our own packages in the sandbox."""
    poison = home / "masked"
    if not poison.exists():
        poison.mkdir(mode=0o755)
        (poison / "__init__.py").write_text(POISON)
        (poison / "__init__.py").chmod(0o644)
    return poison


@lru_cache(maxsize=4)
def bwrap_works(python: str = sys.executable) -> bool:
    """Whether a bubblewrap sandbox can start this Python and build a job jail here (checked once)."""
    if shutil.which("bwrap") is None:
        return False
    home = Path(tempfile.mkdtemp(prefix="dlmath-probe-"))
    try:
        home.chmod(0o755)
        cmd = bwrap_command(home=home, layout=python_layout(python), as_root=os.geteuid() == 0)
        probe = ("import ctypes, numpy\n"
                 "libc = ctypes.CDLL(None, use_errno=True)\n"
                 "assert libc.unshare(0x20000000 | 0x00020000 | 0x08000000) == 0\n")
        return subprocess.run([*cmd, python, "-I", "-c", probe], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(home, ignore_errors=True)


def make_sandbox(mode: str = "auto", *, python: str | None = None) -> Sandbox:
    """``auto`` (bubblewrap if it works, else none), ``bwrap`` (required) or ``none``."""
    if mode not in ("auto", "bwrap", "none"):
        raise ValueError(f"unknown sandbox mode {mode!r}")
    python = python or sys.executable
    if mode == "none" or (mode == "auto" and not bwrap_works(python)):
        if mode == "auto":
            print("warning: bubblewrap is unavailable; student code runs without a sandbox "
                  "(resource limits only)", file=sys.stderr)
        return Sandbox("none", drop_uid=False, python=python)
    if not bwrap_works(python):
        raise RuntimeError("bubblewrap (bwrap) cannot create a sandbox on this machine")
    return Sandbox("bwrap", drop_uid=os.geteuid() == 0, python=python)
