"""The attack corpus (tests/data/attacks.yaml) against the sandboxed grader and the Gradescope layout.

Each attack must earn nothing beyond the wrong notebook it starts from, leak nothing
secret, leave the host untouched and the other submissions of its batch graded as usual.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import claimed_uids, load_catalogue, processes_of, with_function

import reference.hw0.calculus
import reference.hw0.ridge
from autograder.assignment import PROJECT_ROOT
from autograder.batch import grade_batch, grade_paths
from autograder.grade import Limits
from autograder.sandbox import make_sandbox

ATTACKS = yaml.safe_load((Path(__file__).parent / "data" / "attacks.yaml").read_text())
LIMITS = Limits(call_seconds=2, cell_seconds=5, submission_seconds=40)
PWNED = [Path("/tmp/dlmath-pwned"), PROJECT_ROOT / "dlmath-pwned", Path("/etc/dlmath-pwned"), Path("/dlmath-pwned"),
         Path("/usr/dlmath-pwned"), Path("/root/dlmath-pwned")]


class Listener:
    """A loopback TCP server that records whether anyone connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def base_notebook(solution_nb):
    catalogue = {e["id"]: e for e in load_catalogue()}
    nb = with_function(solution_nb, catalogue["q1d-symmetric-formula"]["code"])
    return with_function(nb, catalogue["q3a-no-lambda"]["code"])


def attack_notebook(solution_nb, attack, port):
    nb = base_notebook(solution_nb)
    for key in ("append", "functions"):
        if key in attack:
            nb.cells.append(nbformat.v4.new_code_cell(attack[key].replace("LISTENER_PORT", str(port))))
    if "prepend" in attack:
        nb.cells.insert(1, nbformat.v4.new_code_cell(attack["prepend"]))
    if attack.get("surgery") == "delete-otter-cells":
        nb.cells = [c for c in nb.cells if "grader." not in c.source and "otter.Notebook" not in c.source
                    or c.source == attack.get("prepend")]
    if attack.get("surgery") == "lying-metadata":
        nb.metadata["otter"] = {"assignment_name": "hw9", "OK_FORMAT": True}
        nb.metadata["kernelspec"] = {"name": "python3-evil", "language": "python", "display_name": "Evil"}
    return nb


def secrets(hw0) -> list[str]:
    """Strings that must never reach a student: hidden expected values, reference and check source."""
    found = []
    for case in hw0.cases:
        if case["hidden"] and case["expect"].get("kind") in ("array", "scalar", "numbers"):
            value = case["expect"]["value"]
            data = value["data"] if isinstance(value, dict) else value if isinstance(value, list) else [value]
            found += [repr(v) for v in data[:3] if isinstance(v, float) and abs(v) > 1e-3 and len(repr(v)) > 8]
    for module in (reference.hw0.ridge, reference.hw0.calculus):
        found += [ln.strip() for ln in inspect.getsource(module).splitlines() if len(ln.strip()) > 40]
    checks = PROJECT_ROOT / "assignments" / "hw0" / "checks" / "ridge.py"
    found += [ln.strip() for ln in checks.read_text().splitlines() if len(ln.strip()) > 40]
    return found


def leaks(text: str, hw0) -> list[str]:
    return [s for s in secrets(hw0) if s in text]


def tracked_hashes(built) -> dict[Path, str]:
    """Every tracked file of the project and every file of the build."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    files = [PROJECT_ROOT / p for p in tracked.decode().split("\0") if p]
    files += [p for p in Path(built.student_notebook).parents[1].rglob("*") if p.is_file()]
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, built, solution_nb, hw0):
    """The whole corpus as one batch in one worker, an honest control right after each attack."""
    folder = tmp_path_factory.mktemp("attacks")
    listener = Listener()
    hashes = tracked_hashes(built)
    names = ["solution", "blank", "base"]
    paths = [folder / "000_solution.ipynb", folder / "001_blank.ipynb", folder / "002_base.ipynb"]
    nbformat.write(solution_nb, paths[0])
    nbformat.write(nbformat.read(built.student_notebook, as_version=4), paths[1])
    nbformat.write(base_notebook(solution_nb), paths[2])
    for attack in ATTACKS:
        for suffix, nb in ((attack["id"], attack_notebook(solution_nb, attack, listener.port)),
                           (f"control-after-{attack['id']}", solution_nb)):
            path = folder / f"{len(paths):03d}_{suffix}.ipynb"
            nbformat.write(nb, path)
            paths.append(path)
            names.append(suffix)
    between, uids = [], set()

    def after_each(result):
        uids.update(claimed_uids())
        between.extend(processes_of(claimed_uids()))

    results = grade_batch(paths, hw0.plan, out=folder / "grades.csv", jobs=1, limits=LIMITS,
                          sandbox=make_sandbox("bwrap"), progress=False, on_result=after_each)
    listener.close()
    return {"results": dict(zip(names, results)), "hashes_before": hashes, "connections": listener.connections,
            "between": between, "uids": uids}


def test_other_submissions_are_unaffected(corpus_run, hw0):
    r = corpus_run["results"]
    assert (r["solution"].status, r["solution"].score) == ("ok", hw0.max_score)
    assert (r["blank"].status, r["blank"].score) == ("ok", 0)
    assert r["base"].score == hw0.max_score - hw0.points["q1d"] - hw0.points["q3a"]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a["id"] for a in ATTACKS])
def test_attack_under_autograder_grade(corpus_run, hw0, attack):
    r = corpus_run["results"][attack["id"]]
    base = corpus_run["results"]["base"]
    assert r.status in attack["status"], (r.status, r.message)
    assert r.score <= base.score + 1e-9
    assert r.scores["q1d"] == 0 and r.scores["q3a"] == 0
    text = json.dumps(r.to_dict())
    assert leaks(text, hw0) == []


@pytest.mark.parametrize("attack", ATTACKS, ids=[a["id"] for a in ATTACKS])
def test_control_after_each_attack_gets_full_marks(corpus_run, hw0, attack):
    control = corpus_run["results"][f"control-after-{attack['id']}"]
    assert (control.status, control.score) == ("ok", hw0.max_score), control.message


def test_host_is_untouched(corpus_run):
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
             for p in corpus_run["hashes_before"]}
    assert after == corpus_run["hashes_before"]
    assert [p for p in PWNED if p.exists()] == []
    assert corpus_run["connections"] == 0
    assert corpus_run["uids"] and corpus_run["between"] == []  # nothing of a job outlived it
    assert processes_of(corpus_run["uids"]) == []


def test_sandbox_has_no_network_and_cannot_read_the_reference(tmp_path, solution_nb, hw0):
    probe = """def d_xTc(x, c):
    import os, socket
    facts = []
    try:
        socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=2)
        facts.append("net")
    except OSError:
        pass
    try:
        import reference
        facts.append("import")
    except ImportError:
        pass
    for p in ["REFERENCE_FILE", "/proc/1/environ"]:
        try:
            open(p).read()
            facts.append("read:" + p)
        except OSError:
            pass
    facts.append("uid:%d" % os.getuid())
    raise RuntimeError("FACTS " + " ".join(facts))
"""
    listener = Listener()
    code = probe.replace("LISTENER_PORT", str(listener.port)).replace(
        "REFERENCE_FILE", str(PROJECT_ROOT / "reference" / "ridge.py"))
    path = tmp_path / "probe.ipynb"
    nbformat.write(with_function(solution_nb, code), path)
    (result,) = grade_paths([path], hw0.plan, jobs=1, sandbox=make_sandbox("bwrap"))
    listener.close()
    facts = next(v["message"] for v in result.feedback if "FACTS" in v["message"]).split("FACTS ", 1)[1].split()
    assert listener.connections == 0 and "net" not in facts
    assert "import" not in facts and not any(f.startswith("read:") for f in facts)
    if os.geteuid() == 0:
        assert int(facts[-1].split(":")[1]) >= 61000  # an unprivileged uid, not root


GRADESCOPE_SAMPLE = ["patch-allclose", "lying-ndarray", "otter-internals", "rewrite-tests-on-disk",
                     "read-secrets-and-print", "import-reference", "pickle-reduce", "exit-calls", "network",
                     "write-outside-scratch", "delete-cells-and-rename-grader", "huge-stdout", "memory-bomb"]


@pytest.mark.parametrize("attack_id", GRADESCOPE_SAMPLE)
def test_attack_in_gradescope_layout(tmp_path, built, solution_nb, hw0, attack_id):
    import zipfile

    attack = next(a for a in ATTACKS if a["id"] == attack_id)
    listener = Listener()
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(built.autograder_zip) as zf:
        zf.extractall(root / "source")
    before = {p: p.read_bytes() for p in (root / "source").rglob("*") if p.is_file()}
    nbformat.write(attack_notebook(solution_nb, attack, listener.port), root / "submission" / "hw0.ipynb")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "DLMATH_PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900)
    listener.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((root / "results" / "results.json").read_text())
    scores = {t["name"]: t["score"] for t in results["tests"]}
    assert scores["q1d"] == 0 and scores["q3a"] == 0
    assert results["score"] <= hw0.max_score - hw0.points["q1d"] - hw0.points["q3a"] + 1e-9
    assert leaks(json.dumps(results), hw0) == []
    assert listener.connections == 0
    after = {p: p.read_bytes() for p in (root / "source").rglob("*") if p.is_file()}
    assert after == before  # tests, plan and grader untouched
    assert not re.search(r"FACTS|LEAK .{40,}", json.dumps(results))
