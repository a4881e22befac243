"""Jobs are isolated and the sandbox's output is hostile input (tests/data/isolation_attacks.yaml).

One worker grades every attack, each followed by the blank notebook, the solution and
a probe of what the next job can see, so that anything an attack leaves behind would
reach its followers.  Plus: kills never leave the batch (a sentinel in a small PID
namespace), time limits hold from outside, ``reference`` is masked in an installed
wheel, and a ``TMPDIR`` under /tmp changes nothing.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import claimed_uids, processes_of, with_function

from autograder import runtime
from autograder.assignment import PROJECT_ROOT
from autograder.batch import grade_batch, grade_paths
from autograder.grade import Limits
from autograder.sandbox import make_sandbox, python_layout

ATTACKS = yaml.safe_load((Path(__file__).parent / "data" / "isolation_attacks.yaml").read_text())
LIMITS = Limits(call_seconds=1, cell_seconds=5, submission_seconds=60)
MARK = "DLMATHMARK"
PROBE = textwrap.dedent("""
    import os
    def d_xTc(x, c):
        found = []
        for top in ("/tmp", "/dev/shm", "/var/tmp", os.getcwd()):
            for root, dirs, files in os.walk(top):
                found += [n for n in dirs + files if "DLMATHMARK" in n or n in ("results.jsonl", "job.json")]
        procs = [p for p in os.listdir("/proc") if p.isdigit()]
        raise RuntimeError(f"PROBE found={len(found)} procs={len(procs)}")
""")


def _with_cell(nb, source):
    nb = nbformat.from_dict(nb)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def _markers_on_host() -> list[str]:
    found = []
    for top in ("/tmp", "/dev/shm", "/var/tmp", "/etc", str(PROJECT_ROOT), os.path.expanduser("~")):
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in (".git", ".venv", "node_modules")]
            found += [os.path.join(root, n) for n in dirs + files if MARK in n]
    return found


@pytest.fixture(scope="module")
def isolation_run(tmp_path_factory, built, solution_nb, hw0):
    if os.geteuid() != 0:
        pytest.skip("the per-job uid checks need root")  # CI runs as root
    folder = tmp_path_factory.mktemp("isolation")
    blank = nbformat.read(built.student_notebook, as_version=4)
    followers = {"blank": blank, "solution": solution_nb, "probe": _with_cell(blank, PROBE)}
    paths, roles = [], []
    for k, attack in enumerate(ATTACKS):
        for role, nb in [("attack", _with_cell(blank, attack["append"])), *followers.items()]:
            path = folder / f"{k:02d}_{attack['id']}_{role}.ipynb"
            nbformat.write(nb, path)
            paths.append(path)
            roles.append((attack["id"], role))
    sentinel = subprocess.Popen(["sleep", "600"])
    between: list[str] = []
    uids: set[int] = set()

    def after_each(result):
        uids.update(claimed_uids())
        between.extend(processes_of(claimed_uids()))

    started = time.monotonic()
    results = grade_batch(paths, hw0.plan, out=folder / "grades.csv", jobs=1, limits=LIMITS,
                          sandbox=make_sandbox("bwrap"), progress=False, on_result=after_each)
    elapsed = time.monotonic() - started
    alive = sentinel.poll() is None
    sentinel.kill()
    sentinel.wait()
    by_role = {key: r for key, r in zip(roles, results)}
    return {"results": by_role, "between": between, "uids": uids, "sentinel_alive": alive, "elapsed": elapsed,
            "gradebook": folder / "grades.csv", "n": len(paths)}


def test_batch_completes_and_writes_every_row(isolation_run):
    with open(isolation_run["gradebook"], newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + isolation_run["n"]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a["id"] for a in ATTACKS])
def test_attack_scores_no_more_than_blank_and_followers_are_unaffected(isolation_run, hw0, attack):
    r = isolation_run["results"]
    assert r[(attack["id"], "attack")].score <= r[(attack["id"], "blank")].score
    assert (r[(attack["id"], "blank")].status, r[(attack["id"], "blank")].score) == ("ok", 0)
    solution = r[(attack["id"], "solution")]
    assert (solution.status, solution.score) == ("ok", hw0.max_score), solution.message
    probe = r[(attack["id"], "probe")]
    report = next(v["message"] for v in probe.feedback if "PROBE" in v["message"])
    assert "found=0 " in report, report  # nothing the attack wrote is visible to the next job
    assert report.rstrip(".").endswith("procs=1"), report  # the probe sees only itself


def test_no_process_survives_its_job(isolation_run):
    assert isolation_run["uids"]  # the run claimed sandbox uids, and nothing of theirs is left
    assert isolation_run["between"] == []
    assert processes_of(isolation_run["uids"]) == []


def test_no_process_outside_the_batch_is_signalled(isolation_run):
    assert isolation_run["sentinel_alive"]


def test_nothing_written_outside_the_job_areas(isolation_run):
    assert _markers_on_host() == []


SENTINEL_SCRIPT = """
import json, os, subprocess, sys, time
from pathlib import Path
from autograder.assignment import load_assignment
from autograder.batch import grade_paths
from autograder.grade import Limits
from autograder.sandbox import make_sandbox

from autograder import runtime
sentinels = [subprocess.Popen(["sleep", "600"], start_new_session=s) for s in (False, True)]
paths = [Path(p) for p in sys.argv[1:]]
results = grade_paths(paths, load_assignment("hw0").plan, jobs=2, sandbox=make_sandbox("bwrap"),
                      limits=Limits(call_seconds=1, cell_seconds=5, submission_seconds=60))
alive = [s.poll() is None for s in sentinels]
print(json.dumps({"alive": alive, "pids": [s.pid for s in sentinels],
                  "scores": [r.score for r in results], "statuses": [r.status for r in results]}))
"""


def test_a_batch_in_a_small_pid_namespace_never_kills_outside_it(tmp_path, built, solution_nb, hw0):
    """Container-like PIDs (the grader is PID 1): honest notebooks and a PID-steering hang."""
    blank = nbformat.read(built.student_notebook, as_version=4)
    steer = next(a for a in ATTACKS if a["id"] == "pid-steer-then-hang")
    paths = []
    for k in range(6):
        nbformat.write(solution_nb, tmp_path / f"honest{k}.ipynb")
        paths.append(tmp_path / f"honest{k}.ipynb")
        if k % 2 == 0:
            nbformat.write(_with_cell(blank, steer["append"]), tmp_path / f"steer{k}.ipynb")
            paths.append(tmp_path / f"steer{k}.ipynb")
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", SENTINEL_SCRIPT,
                           *map(str, paths)], capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["alive"] == [True, True] and max(out["pids"]) < 100  # small PIDs, as in a container
    for path, score, status in zip(paths, out["scores"], out["statuses"]):
        if path.name.startswith("honest"):
            assert (status, score) == ("ok", hw0.max_score)
        else:
            assert score == 0 and status == "timeout"


ESCAPES = textwrap.dedent("""
    def d_xTc(x, c):
        import ctypes, os, threading
        libc = ctypes.CDLL(None, use_errno=True)
        facts = []
        tries = {
            "memfd": lambda: os.close(os.memfd_create("probe")),
            "fork": lambda: os.fork() == 0 and os._exit(0),
            "exec": lambda: os.execv("/bin/true", ["true"]),
            "shm": lambda: libc.shmget(0, 2**20, 0o1600) >= 0 or (_ for _ in ()).throw(OSError()),
            "keyring": lambda: libc.syscall(248, b"user", b"k", b"v", 1, -4) >= 0 or (_ for _ in ()).throw(OSError()),
            "userns": lambda: libc.unshare(0x10000000) == 0 or (_ for _ in ()).throw(OSError()),
            "mountns": lambda: libc.unshare(0x00020000) == 0 or (_ for _ in ()).throw(OSError()),
            "aio": lambda: libc.syscall(206, 128, ctypes.byref(ctypes.c_ulong(0))) == 0 or (_ for _ in ()).throw(OSError()),
            "pty": lambda: os.openpty(),
            "nofile": lambda: __import__("resource").setrlimit(7, (4096, 4096)),
        }
        for name, attempt in tries.items():
            try:
                attempt()
                facts.append(name)
            except (OSError, ValueError):
                pass
        t = threading.Thread(target=lambda: facts.append("thread"))
        t.start()
        t.join()
        status = open("/proc/self/status").read()
        facts += ["".join(line.split()) for line in status.splitlines() if line.startswith(("CapEff", "NoNewPrivs"))]
        raise RuntimeError("FACTS " + " ".join(facts))
""")


def test_a_job_is_one_unprivileged_process_without_escape_hatches(tmp_path, built, hw0):
    """No fork or exec (so RLIMIT_AS bounds the job's memory), no memfd or SysV shared memory,
    no keyring (it outlives jobs), no namespaces; threads still work."""
    blank = nbformat.read(built.student_notebook, as_version=4)
    nbformat.write(_with_cell(blank, ESCAPES), tmp_path / "escapes.ipynb")
    (r,) = grade_paths([tmp_path / "escapes.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"), limits=LIMITS)
    facts = next(v["message"] for v in r.feedback if "FACTS" in v["message"]).split("FACTS ", 1)[1].split()
    refused = ("memfd", "fork", "exec", "shm", "keyring", "userns", "mountns", "aio", "pty", "nofile")
    assert [f for f in facts if f in refused] == []
    assert "thread" in facts and "CapEff:0000000000000000" in facts and "NoNewPrivs:1" in facts.pop().rstrip(".")


HEARTBEAT = textwrap.dedent("""\
    def ridge(X, y, lam):
        import json, os, signal, sys, time
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        pipe = [int(f) for f in os.listdir("/proc/self/fd") if os.readlink(f"/proc/self/fd/{f}").startswith("pipe")]
        frame = sys._getframe()
        while frame is not None and "call" not in frame.f_locals:
            frame = frame.f_back
        record = (json.dumps({"call": frame.f_locals["call"]["id"]}) + "\\n").encode()
        while True:  # a heartbeat: the same "call" record, again and again
            for fd in pipe:
                try:
                    os.write(fd, record)
                except OSError:
                    pass
            time.sleep(0.3)
""")


def test_heartbeats_do_not_stretch_a_time_limit(tmp_path, solution_nb, hw0):
    nbformat.write(with_function(solution_nb, HEARTBEAT), tmp_path / "heartbeat.ipynb")
    started = time.monotonic()
    (r,) = grade_paths([tmp_path / "heartbeat.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"), limits=LIMITS)
    assert time.monotonic() - started < 25
    assert r.scores["q3a"] == 0 and r.score == hw0.max_score - hw0.points["q3a"], r.message


def test_a_hung_call_with_alarms_disabled_costs_only_its_function(tmp_path, solution_nb, hw0):
    hang = ("def ridge(X, y, lam):\n    import signal\n    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
            "    while True:\n        pass")
    nbformat.write(with_function(solution_nb, hang), tmp_path / "hang.ipynb")
    started = time.monotonic()
    (r,) = grade_paths([tmp_path / "hang.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"), limits=LIMITS)
    elapsed = time.monotonic() - started
    assert r.status == "timeout"
    assert r.scores["q3a"] == 0 and r.score == hw0.max_score - hw0.points["q3a"]
    assert "stopped from outside" in r.message
    ridge_calls = sum(len(c["calls"]) for c in hw0.plan.cases if c["func"] == "ridge")
    assert ridge_calls >= 3 and elapsed < 25  # one limit (+ a restart), not one per call


def test_an_honest_endless_loop_costs_the_limit_once(tmp_path, solution_nb, hw0):
    nbformat.write(with_function(solution_nb, "def ridge(X, y, lam):\n    while True:\n        pass"),
                   tmp_path / "loop.ipynb")
    started = time.monotonic()
    (r,) = grade_paths([tmp_path / "loop.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"),
                       limits=Limits(call_seconds=2, cell_seconds=5, submission_seconds=60))
    elapsed = time.monotonic() - started
    assert r.status == "timeout" and r.score == hw0.max_score - hw0.points["q3a"]
    assert elapsed < 2 * 2 + 5  # the first call's limit, then every other ridge call at once


def test_a_hung_cell_is_skipped_and_the_rest_graded(tmp_path, solution_nb, hw0):
    nb = nbformat.from_dict(solution_nb)
    nb.cells.insert(2, nbformat.v4.new_code_cell(
        "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)"))
    nbformat.write(nb, tmp_path / "hung-cell.ipynb")
    (r,) = grade_paths([tmp_path / "hung-cell.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"),
                       limits=Limits(call_seconds=1, cell_seconds=2, submission_seconds=60))
    assert r.status == "timeout" and r.score == hw0.max_score
    assert re.search(r"cell \d+ ran past its 2 s limit and was stopped from outside", r.message), r.message


@pytest.fixture
def venv_dir():
    """Not under /tmp: each job gets a fresh /tmp, which would hide an interpreter living there."""
    folder = Path(tempfile.mkdtemp(prefix="dlmath-venv-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_reference_is_masked_in_an_installed_wheel(tmp_path, venv_dir, built, hw0):
    """A non-editable install puts ``reference`` into site-packages, which the sandbox binds."""
    venv = venv_dir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    outer = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "numpy").exists())
    (site / "outer.pth").write_text(f"{outer}\n")  # numpy, matplotlib from the project's venv
    shutil.copytree(PROJECT_ROOT / "reference", site / "reference")  # as `pip install .` would
    python = str(venv / "bin" / "python")
    layout = python_layout(python)
    assert str((site / "reference").resolve()) in layout.own_packages
    steal = textwrap.dedent("""
        def d_xTc(x, c):
            import reference.hw0.calculus as rc
            return rc.d_xTc(x, c)
        try:
            import reference
            print("imported")
        except ImportError:
            pass
    """)
    blank = nbformat.read(built.student_notebook, as_version=4)
    nbformat.write(_with_cell(blank, steal), tmp_path / "steal.ipynb")
    (r,) = grade_paths([tmp_path / "steal.ipynb"], hw0.plan, jobs=1,
                       sandbox=make_sandbox("bwrap", python=python), limits=LIMITS)
    assert r.score == 0 and r.scores["q1a"] == 0
    messages = [v["message"] for v in r.feedback if v["func"] == "d_xTc"]
    assert all("raised ImportError: this package is not available while grading" in m for m in messages), messages


def test_tmpdir_under_tmp_changes_nothing(tmp_path, built, solution_nb, hw0):
    nbformat.write(solution_nb, tmp_path / "s1.ipynb")
    shutil.copy(built.student_notebook, tmp_path / "s2.ipynb")
    tmpdir = Path("/tmp") / f"dlmath-tmpdir-test-{os.getpid()}"
    tmpdir.mkdir(exist_ok=True)
    try:
        env = {**os.environ, "TMPDIR": str(tmpdir)}
        out = tmp_path / "grades.csv"
        subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out),
                        "--quiet", "--sandbox", "bwrap", str(tmp_path / "s1.ipynb"), str(tmp_path / "s2.ipynb")],
                       env=env, check=True, timeout=300, capture_output=True, cwd=PROJECT_ROOT)
        with open(out, newline="") as f:
            rows = {r["submission"]: r for r in csv.DictReader(f)}
        assert [(r["status"], float(r["score"])) for r in rows.values()] == [("ok", hw0.max_score), ("ok", 0.0)]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


SUMMARY = b'{"cells": 2, "errors": [], "timeouts": 0}\n'


def _reader():
    from autograder.jobs import RecordReader

    return RecordReader({"cells": ["a = 1", "b = 2"], "calls": [{"id": "c1#0", "func": "f"}, {"id": "c2#0", "func": "g"}]})


@pytest.mark.parametrize("stream", [
    b'{"cell": 2}\n{"cell": 1}\n',  # cells go forward only
    b'{"cell": 3}\n',  # no such cell
    b'{"cell": true}\n',  # a bool is not a cell number
    SUMMARY + b'{"id": "c2#0", "out": {"t": "none"}}\n{"id": "c1#0", "out": {"t": "none"}}\n',  # plan order
    SUMMARY + b'{"id": "c1#0", "out": {"t": "none"}}\n{"id": "c1#0", "out": {"t": "num", "v": 1.0}}\n',  # once
    SUMMARY + b'{"id": "hidden#0", "out": {"t": "none"}}\n',  # only this job's calls
    b'{"cells": 2, "errors": [], "timeouts": 0}\n{"call": "c2#0"}\n{"call": "c1#0"}\n',
    b'{"cells": 2, "errors": [], "timeouts": 0}\n{"call": "c1#0"}\n{"call": "c1#0"}\n',  # no heartbeat
    b'{"cells": 2, "errors": [], "timeouts": 0}\n{"cells": 2, "errors": [], "timeouts": 0}\n',  # one summary
    b'{"cells": 2, "errors": [], "timeouts": 0}\n{"cell": 1}\n',  # no cell after the summary
    b'{"call": "c1#0"}\n',  # no call before the summary
    b'{"cells": 2, "errors": "none", "timeouts": 0}\n',
    b'{"cells": 2, "errors": [], "timeouts": 0, "extra": 1}\n',
    SUMMARY + b'{"id": "c1#0", "out": {"t": "none"}, "also": 1}\n',
    b'x 0\n', b'[1, 2]\n', b'[' * 100000 + b'\n',
])
def test_the_record_stream_is_checked_strictly(stream):
    from autograder.jobs import StreamError

    with pytest.raises(StreamError):
        _reader().feed(stream)


def test_the_record_stream_is_capped():
    from autograder.jobs import MAX_RECORD_BYTES, MAX_STREAM_BYTES, StreamError

    reader = _reader()
    with pytest.raises(StreamError):
        reader.feed(b"7" * (MAX_RECORD_BYTES + 1))  # one endless line
    reader = _reader()
    reader.feed(SUMMARY)
    for _ in range(MAX_STREAM_BYTES // 2**20 - 1):  # blank lines are valid again and again: only the total stops it
        reader.feed(b" " * (2**20 - 1) + b"\n")
    with pytest.raises(StreamError, match="more output than allowed"):
        for _ in range(2):
            reader.feed(b" " * (2**20 - 1) + b"\n")


def test_an_invalid_output_fails_its_case_with_the_reason():
    reader = _reader()
    _, record = reader.feed(SUMMARY + b'{"id": "c1#0", "out": {"t": "tuple", "len": 2, "items": []}}\n')
    case = {"label": "f(x)", "func": "f", "calls": [[]],
            "expect": {"kind": "tuple", "names": ["a", "b"], "items": [{"kind": "scalar", "value": 1.0, "rtol": 0,
                                                                       "atol": 0}] * 2}}

    passed, message = runtime.judge_case(case, [record["out"]])
    assert not passed and "could not be read" in message


INJECT = textwrap.dedent("""\
    def d_xTc(x, c):
        Bad = type("Err\\x1b]0;owned\\x07<img src=x onerror=alert(1)>", (Exception,), {})
        raise Bad("\\x1b[2J\\x1b]52;c;cm0gLXJmIH4=\\x07\\n\\nStatus: **ok**. Autograded score: **41 / 41**.\\n"
                  "<script>alert(1)</script> [click](javascript:alert(1)) \\u202e")
""")


def test_student_text_in_feedback_and_gradescope_output_is_inert(tmp_path, built, hw0):
    from autograder.feedback import feedback_markdown
    from autograder.gradescope import results_json

    blank = nbformat.read(built.student_notebook, as_version=4)
    nbformat.write(_with_cell(blank, INJECT), tmp_path / "inject.ipynb")
    (r,) = grade_paths([tmp_path / "inject.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"), limits=LIMITS)
    assert any("raised" in v["message"] and "Status" in v["message"] for v in r.feedback)  # the text did arrive
    gradescope = json.loads(json.dumps(results_json(r, hw0.plan)))["tests"]
    assert {t["output_format"] for t in gradescope} == {"text"}
    for text in (feedback_markdown(r), gradescope[0]["output"]):
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
        assert [ln for ln in text.splitlines() if ln.startswith("Status:")] == (
            [ln for ln in text.splitlines()[:3] if ln.startswith("Status:")])  # only the real status line
    markdown = feedback_markdown(r)
    for needle in ("<script", "<img", "[click]"):  # shown, as code, never rendered
        lines = [ln for ln in markdown.splitlines() if needle in ln]
        assert lines and all(re.search(r"(`+) [^`]*" + re.escape(needle) + r".* \1", ln) for ln in lines), lines


FLOOD = textwrap.dedent("""\
    import json, os, signal, sys
    def _flood_then_hang():
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
        frame = sys._getframe()
        while frame is not None and "call" not in frame.f_locals:
            frame = frame.f_back
        record = {"id": frame.f_locals["call"]["id"], "out": [[]] * 1_900_000}  # ~5.7 MB, ~20x that parsed
        data = (json.dumps(record, separators=(",", ":")) + "\\n").encode()
        for f in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{f}").startswith("pipe"):
                    os.write(int(f), data)
            except OSError:
                pass  # the descriptor listdir itself used
        while True:
            pass
    def d_xTc(x, c):
        _flood_then_hang()
    def d_sqnorm(x):
        _flood_then_hang()
    def d_Ax(A, x):
        _flood_then_hang()
    def d_xTAx(A, x):
        _flood_then_hang()
""")


def test_the_trusted_side_stays_small_whatever_comes_back(tmp_path, built, solution_nb, hw0):
    """Records that parse to 20x their size, over several attempts, and a notebook of ``[],[],…``:
    the grader's own memory stays bounded, and the submission after them is graded as usual."""
    blank = nbformat.read(built.student_notebook, as_version=4)
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(_with_cell(blank, FLOOD), folder / "a_flood.ipynb")
    bloat = nbformat.v4.new_notebook()
    bloat.cells = blank.cells
    text = nbformat.writes(bloat)
    (folder / "b_bloat.ipynb").write_text(text[:-2] + ', "padding": [' + "[]," * 15_000_000 + "[]]}")
    nbformat.write(solution_nb, folder / "c_control.ipynb")
    out = tmp_path / "grades.csv"
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out),
                             "--jobs", "1", "--quiet", "--call-timeout", "1", "--sandbox", "bwrap", str(folder)],
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_maxrss < 600 * 1024, usage.ru_maxrss  # KiB: the grader and its workers, at their peak
    with open(out, newline="") as f:
        rows = {Path(r["submission"]).name: r for r in csv.DictReader(f)}
    assert (rows["a_flood.ipynb"]["status"], float(rows["a_flood.ipynb"]["score"])) in (("timeout", 0), ("kernel-died", 0))
    assert rows["b_bloat.ipynb"]["status"] == "invalid-notebook"
    assert (rows["c_control.ipynb"]["status"], float(rows["c_control.ipynb"]["score"])) == ("ok", hw0.max_score)


def test_misconceptions_are_named_by_the_judge_only(hw0):
    """A student's exception text that quotes a misconception's message is not counted as one."""
    from autograder.grade import alternative_messages, judge_all

    case = next(c for c in hw0.plan.cases if alternative_messages(c["expect"]))
    message = alternative_messages(case["expect"])[0]
    cid = f"{case['id']}#0"
    quoted = {cid: json.dumps({"t": "error", "type": "ValueError", "message": message})}
    (verdict,) = [v for v in judge_all(hw0.plan, quoted) if v["id"] == case["id"]]
    assert not verdict["passed"] and verdict["misconception"] is None
    alt = next(a for a in case["expect"]["alternatives"] if a["message"] == message and "value" in a)
    real = {cid: json.dumps({"t": "array", **alt["value"]})}
    (verdict,) = [v for v in judge_all(hw0.plan, real) if v["id"] == case["id"]]
    assert verdict["misconception"] == message


SURROGATE_EXIT = textwrap.dedent("""\
    try:
        raise Exception("\\udc80 and \\x1b[2J")
    finally:
        pass
""")


def test_lone_surrogates_and_a_spoofed_exit_code_change_nothing(tmp_path, built, hw0):
    from autograder.report import write_report

    blank = nbformat.read(built.student_notebook, as_version=4)
    nb = _with_cell(blank, SURROGATE_EXIT)
    nb = _with_cell(nb, "import os\nos._exit(71)  # the code of a failed sandbox setup")
    nbformat.write(nb, tmp_path / "spoof.ipynb")
    (r,) = grade_paths([tmp_path / "spoof.ipynb"], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"), limits=LIMITS)
    assert r.status == "kernel-died" and "could not be set up" not in r.message
    r.message.encode("utf-8")  # no lone surrogate crossed into the trusted side's text
    assert "\x1b" not in r.message
    write_report([r], hw0.plan, tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8")
