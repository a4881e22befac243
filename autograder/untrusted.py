"""The untrusted phase: a warm zygote that runs each submission in a jail of its own.

Started as a script from a scratch folder that holds only this file and
``runtime.py`` (no reference package, no checks, no expected values)::

    python -I untrusted.py [--isolate] [--uid UID]

It imports NumPy and matplotlib once, then waits for job headers (``job <bytes>``)
on stdin.  For each it forks a *leader* that, with ``--isolate``, enters new PID,
mount and IPC namespaces and forks the job's process: PID 1 of its own namespace,
which reads the job itself from stdin, then builds its jail (a fresh size-limited
``/tmp`` and ``/dev/shm``, its own ``/proc``, no capabilities, an unprivileged uid
when the grader runs as root, a seccomp filter: one process, no exec) and runs the
submission.  When it ends, the kernel kills every process it started, so nothing
outlives its job.  The zygote never reads a job or a result, so every job starts
from the same memory, with nothing of another student's in it.

The job process writes JSON records to a pipe as it goes (a job that dies midway
keeps what it had done): ``{"cell": i}`` before cell i, ``{"cells": ...}`` after
the cells, ``{"call": id}`` before each call and ``{"id": ..., "out": ...}``
after it.  The leader relays those bytes in frames (``d <n>\\n`` + n bytes); the
zygote ends the job with ``x <exit code>\\n``.  Student code cannot write outside
its own frames, so it cannot forge the end of its job.  The trusted side treats every
relayed byte as hostile and enforces the time limits from outside.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import signal
import struct
import sys
import tempfile
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime  # noqa: E402  (the sibling copy of autograder/runtime.py)

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC = 0x00020000, 0x20000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 16384, 1 << 18
WORK = "/tmp/work"  # the job's working folder, inside its fresh /tmp
SETUP_FAILED = 71  # exit code of a job whose jail could not be built (no student code ran)


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


# --------------------------------------------------------------------------
# The job process: run one submission, write records
# --------------------------------------------------------------------------

class Records:
    """The job's record stream (a pipe to the zygote)."""

    def __init__(self, fd: int):
        self.file = os.fdopen(fd, "w", buffering=1)

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")


def run_cells(cells: list[str], namespace: dict, cell_timeout: float, skip: set[int], records: Records) -> dict:
    """Execute code cells in order; an error in one cell does not stop the next."""
    errors, timeouts = [], 0
    for i, source in enumerate(cells, start=1):
        if i in skip:  # it hung past the limit in an earlier attempt: the trusted side killed it
            errors.append({"cell": i, "error": "timeout (stopped from outside)"})
            timeouts += 1
            continue
        records.write({"cell": i})
        try:
            code = compile(runtime.python_source(source), f"<cell {i}>", "exec")
            with runtime.time_limit(cell_timeout):
                exec(code, namespace)
        except runtime.CallTimeout:
            timeouts += 1
            errors.append({"cell": i, "error": "timeout"})
        except SystemExit:
            pass  # IPython swallows sys.exit() in a cell; so do we
        except BaseException as exc:  # noqa: BLE001  student code may raise anything
            errors.append({"cell": i, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    return {"cells": len(cells), "errors": errors[:50], "timeouts": timeouts}


def run_calls(calls: list[dict], namespace: dict, call_timeout: float, records: Records) -> None:
    """Call the student's functions; after one call times out, that function's other calls
    are reported timed out at once instead of costing the limit again each."""
    timed_out: set[str] = set()
    for call in calls:
        if call["func"] in timed_out:
            records.write({"id": call["id"], "out": runtime.timeout_output(call_timeout, skipped=True)})
            continue
        records.write({"call": call["id"]})
        if call.get("variable"):
            result = runtime.read_variable(namespace.get(call["func"]))
        else:
            result = runtime.call_student(namespace.get(call["func"]), call["args"], call_timeout)
        if result.get("t") == "timeout":
            timed_out.add(call["func"])
        records.write({"id": call["id"], "out": result})


def run_job(job: dict, records: Records) -> None:
    """In the job process, after the jail is built: run one submission."""
    namespace: dict = {"__name__": "__main__"}
    summary = run_cells(job["cells"], namespace, job["cell_timeout"], set(job.get("skip_cells", [])), records)
    records.write(summary)
    run_calls(job["calls"], namespace, job["call_timeout"], records)
    records.file.close()


# --------------------------------------------------------------------------
# The jail: namespaces, fresh writable areas, no privileges
# --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _fresh_filesystems(disk_bytes: int) -> None:
    """Private mounts: a new /tmp and /dev/shm of bounded size (gone with the job), a /proc
    that shows only this job's processes."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for target in ("/tmp", "/dev/shm"):  # inodes cost kernel memory that size= does not count
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_bytes},nr_inodes=4096,mode=1777")
    if os.path.isdir("/dev/pts"):  # no terminals: their number is shared by the whole machine
        _mount("tmpfs", "/dev/pts", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k,nr_inodes=2")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _drop_privileges(uid: int | None) -> None:
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root: every capability goes too
    _drop_capabilities()
    status = open("/proc/self/status").read()
    if re.search(r"^Cap(Eff|Prm):\s*0*[1-9a-f]", status, re.M):
        raise OSError("capabilities remain after dropping them")


# What a job may not do (syscall numbers per architecture).  A job is one process (threads
# allowed): no fork, no exec, so its memory is one address space under RLIMIT_AS.  No
# memory outside the size limits (memfd, SysV shared memory and queues), no state that
# outlives the job (the kernel keyring is per uid), no new namespaces, and less kernel to
# attack (io_uring, bpf, userfaultfd, perf, ptrace), and no machine-wide quota to use up
# (AIO).  clone3 passes its flags in memory, where a filter cannot look: it fails with
# ENOSYS and the C library falls back to clone.
_REFUSED = ("fork", "vfork", "execve", "execveat", "unshare", "setns", "memfd_create", "shmget", "shmat", "shmctl",
            "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semctl", "semtimedop", "mq_open",
            "add_key", "request_key", "keyctl", "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf",
            "userfaultfd", "perf_event_open", "ptrace", "io_setup", "io_submit")
_SYSCALLS = {
    "x86_64": (0xC000003E, {
        "clone": 56, "clone3": 435, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "unshare": 272,
        "setns": 308, "memfd_create": 319, "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "msgget": 68,
        "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "semget": 64, "semop": 65, "semctl": 66, "semtimedop": 220,
        "mq_open": 240, "add_key": 248, "request_key": 249, "keyctl": 250, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "bpf": 321, "userfaultfd": 323, "perf_event_open": 298,
        "ptrace": 101, "io_setup": 206, "io_submit": 209}),
    "aarch64": (0xC00000B7, {
        "clone": 220, "clone3": 435, "execve": 221, "execveat": 281, "unshare": 97, "setns": 268,
        "memfd_create": 279, "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197, "msgget": 186,
        "msgctl": 187, "msgrcv": 188, "msgsnd": 189, "semget": 190, "semctl": 191, "semtimedop": 192,
        "semop": 193, "mq_open": 180, "add_key": 217, "request_key": 218, "keyctl": 219, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "bpf": 280, "userfaultfd": 282, "perf_event_open": 241,
        "ptrace": 117, "io_setup": 0, "io_submit": 2}),
}
CLONE_THREAD = 0x00010000


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_program(machine: str) -> bytes | None:
    """A classic-BPF seccomp filter for this machine, or None where it is not known."""
    if machine not in _SYSCALLS:
        return None
    arch, nr = _SYSCALLS[machine]
    ld, jeq, jset, jge, ret = 0x20, 0x15, 0x45, 0x35, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    prog = [_bpf(ld, 0, 0, 4), _bpf(jeq, 1, 0, arch), _bpf(ret, 0, 0, eperm),  # another ABI: refuse everything
            _bpf(ld, 0, 0, 0), _bpf(jge, 0, 1, 0x40000000), _bpf(ret, 0, 0, eperm),  # x32 numbers
            _bpf(jeq, 0, 1, nr["clone3"]), _bpf(ret, 0, 0, enosys)]
    for name in _REFUSED:
        if name in nr:  # aarch64 has no fork or vfork: clone does it all
            prog += [_bpf(jeq, 0, 1, nr[name]), _bpf(ret, 0, 0, eperm)]
    prog += [_bpf(jeq, 0, 3, nr["clone"]),  # clone: threads only (CLONE_THREAD in the flags, the first argument)
             _bpf(ld, 0, 0, 16), _bpf(jset, 1, 0, CLONE_THREAD), _bpf(ret, 0, 0, eperm),
             _bpf(ret, 0, 0, allow)]
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install_seccomp() -> None:
    program = seccomp_program(os.uname().machine)
    if program is None:
        return
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _check(_libc.prctl(38, 1, 0, 0, 0), "no_new_privs")  # PR_SET_NO_NEW_PRIVS
    _check(_libc.prctl(22, 2, ctypes.byref(fprog), 0, 0), "seccomp")  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def _apply_limits(limits: dict) -> None:
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails instead of killing


def _only_fds(*keep: int) -> None:
    """stdin/stdout/stderr to /dev/null (the zygote's pipes must not reach student code);
    every other descriptor closed but ``keep``."""
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


def read_job(size: int) -> dict:
    """The job, read by the job process itself from the zygote's stdin, where the trusted side
    wrote it after the header (the zygote, which forks every job, never holds any job's data)."""
    data = b""
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            raise EOFError("the job was cut short")
        data += chunk
    return json.loads(data)


def job_process(fd: int, ready: int, size: int, *, isolate: bool, uid: int | None) -> int:
    """Read the job, build the jail, then run the submission; the exit code of the job process.

    ``ready`` is written and closed once the jail stands, before any student code: the leader
    tells a failed setup from a student's ``os._exit(SETUP_FAILED)`` by it."""
    try:
        job = read_job(size)
        _only_fds(fd, ready)
        if isolate:
            _fresh_filesystems(job["disk_bytes"])
            _drop_privileges(uid)
            os.makedirs(WORK)
            os.chdir(WORK)
        else:
            os.chdir(tempfile.mkdtemp(prefix="dlmath-job-"))
        os.environ["HOME"] = os.environ["TMPDIR"] = os.getcwd()
        tempfile.tempdir = None
        _apply_limits(job["limits"])
        if isolate:
            _install_seccomp()  # last: after it, no fork, exec or mount
        os.write(ready, b"1")
        os.close(ready)
    except BaseException:  # noqa: BLE001  fail closed: no student code without its jail
        return SETUP_FAILED
    try:
        run_job(job, Records(fd))
        return 0
    except BaseException:  # noqa: BLE001
        return 70


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def job_leader(size: int, *, isolate: bool, uid: int | None) -> int:
    """The zygote's child: enter new namespaces, fork the job process (PID 1 there), relay its
    records to the trusted side, and end with its exit code."""
    if isolate:
        try:
            _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC), "unshare")
        except OSError:
            return SETUP_FAILED
    else:
        os.setsid()
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.close(ready_read)
        os._exit(job_process(write_end, ready_write, size, isolate=isolate, uid=uid))  # skip teardown
    os.close(write_end)
    os.close(ready_write)
    relay(read_end)
    _, status = os.waitpid(pid, 0)
    jailed = os.read(ready_read, 1) == b"1"
    code = _exit_code(status)
    if not jailed:
        return SETUP_FAILED
    return 1 if code == SETUP_FAILED else code  # the student's own exit code cannot claim a setup failure


# --------------------------------------------------------------------------
# The zygote
# --------------------------------------------------------------------------

def _preload() -> None:
    """Imports every submission needs, paid once per worker instead of once per job."""
    os.environ["MPLBACKEND"] = "Agg"
    if not os.access(os.environ.get("MPLCONFIGDIR", ""), os.W_OK):  # read-only inside the sandbox
        os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="matplotlib-")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.backends.backend_agg  # noqa: F401  (imported lazily otherwise, after the uid drop)
    import matplotlib.pyplot  # noqa: F401

    sys.modules["otter"] = _otter_stub()


def relay(fd: int) -> None:
    """Copy the job's records to the trusted side in frames, until every writer is gone."""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        _write_all(1, b"d %d\n" % len(chunk) + chunk)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _read_line(fd: int) -> bytes:
    """One short line, a byte at a time, so that nothing after it is read (and kept) here."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte or len(line) > 64:
            raise EOFError("no more jobs")
        line += byte
    return line


def serve(*, isolate: bool, uid: int | None) -> None:
    """Fork a job leader per job header; the zygote itself never reads a job or a result, so
    every job starts from the same memory, with nothing of any other job in it."""
    if not isolate:  # orphans of a job stay below the zygote, where the trusted side finds and kills them
        _libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    _preload()
    _write_all(1, b"ready\n")
    while True:
        try:
            size = int(_read_line(0).split()[1])  # "job <bytes>": the job itself is left in the pipe
        except (EOFError, ValueError, IndexError):
            return
        pid = os.fork()
        if pid == 0:
            os._exit(job_leader(size, isolate=isolate, uid=uid))
        _, status = os.waitpid(pid, 0)
        _write_all(1, b"x %d\n" % _exit_code(status))


def main(argv: list[str]) -> None:
    isolate = "--isolate" in argv
    uid = int(argv[argv.index("--uid") + 1]) if "--uid" in argv else None
    serve(isolate=isolate, uid=uid)


if __name__ == "__main__":
    main(sys.argv[1:])
