"""Shared fixtures: one real build of hw0 per test session, and notebook surgery helpers."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from autograder import variants  # noqa: E402
from autograder.assignment import PROJECT_ROOT, load_assignment  # noqa: E402
from autograder.build import build  # noqa: E402
from autograder.checks import cases_for  # noqa: E402


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    """Debian's headless Chromium with no network (its own network namespace, and a dead proxy)."""
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not installed (scripts/setup-system.sh installs it)")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", f"--user-data-dir={profile}", *args]
    if shutil.which("unshare"):
        cmd = ["unshare", "-n", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def png_base64(size: tuple[float, float] = (3, 2)) -> str:
    """A small real PNG (a matplotlib plot), base64-encoded as notebooks store images."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    ax.plot([0, 1, 2], [0, 1, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def answered(nb, answer, *, skip: int = 0, attach: str | None = None) -> nbformat.NotebookNode:
    """A copy of a built student notebook whose written answer cells (otter's placeholder) hold
    ``answer(k)`` for the k-th; the first ``skip`` stay blank; ``attach``: a PNG attached to each."""
    from autograder.written import PLACEHOLDER

    nb = nbformat.from_dict(nb)
    k = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip() == PLACEHOLDER:
            k += 1
            if k > skip:
                cell.source = answer(k)
                if attach:
                    cell["attachments"] = {"sketch.png": {"image/png": attach}}
    return nb


def probe_page(page: Path, tmp: Path, script: str, *, height: int = 2000) -> dict:
    """Open a page that forbids every script in offline Chromium with one probe script added (a nonce
    no student text can carry) and return the JSON the probe writes into ``<pre id="probe">``."""
    import json

    text = page.read_text(encoding="utf-8")
    assert "script-src" not in text and "default-src 'none'" in text  # the page forbids every script
    probe = tmp / f"probe-{page.name}"
    probe.write_text(text.replace("default-src 'none';", "default-src 'none'; script-src 'nonce-probe';")
                     .replace("</body>", f'<script nonce="probe">{script}</script></body>'), encoding="utf-8")
    proc = chromium(f"--window-size=1200,{height}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri(),
                    profile=tmp / "profile")
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-1000:]
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                      .replace("&quot;", '"'))


def hw0_cases(seed: int, conv=None, *, checks=None) -> list[dict]:
    """Every case of hw0's checks (or of ``checks``) on ``seed`` under ``conv`` (default: hw0's own)."""
    hw0 = load_assignment("hw0")
    conv = hw0.conventions if conv is None else conv
    return cases_for(hw0.module.CHECKS if checks is None else checks, seed, conv, rt=hw0.runtime)


def hw0_runtime():
    """hw0's support module: the generic runtime plus hw0's judges and test functions, as shipped."""
    return load_assignment("hw0").runtime


def hw0_checks() -> list:
    """hw0's check definitions (every one, optional ones included)."""
    return load_assignment("hw0").module.CHECKS


def load_catalogue(name: str = "hw0") -> list[dict]:
    """The assignment's wrong-answer catalogue (``assignments/<name>/catalogue.yaml``)."""
    entries = load_assignment(name).catalogue()
    for e in entries:
        e["func"] = re.match(r"def (\w+)\(", e["code"]).group(1)
    return entries


def with_function(nb: nbformat.NotebookNode, code: str, *, replaces: str | None = None) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose cell defining ``replaces`` (default: the function in ``code``) holds ``code``."""
    changed = variants.with_function(nb, code, replaces=replaces)
    assert changed is not None, f"expected one cell defining {replaces or code.splitlines()[0]}"
    return changed


def claimed_uids() -> set[int]:
    """The sandbox uids this test process holds (their lock files are open here)."""
    uids = set()
    for fd in os.listdir("/proc/self/fd"):
        m = re.search(r"\.dlmath-uid-(\d+)\.lock$", os.path.realpath(f"/proc/self/fd/{fd}"))
        if m:
            uids.add(int(m.group(1)))
    return uids


def processes_of(uids: set[int]) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        real_uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if real_uid in uids and not re.search(r"^State:\s+Z", status, re.M):
            found.append(f"{pid} uid {real_uid}")
    return found


def grader_check_outputs(nb: nbformat.NotebookNode, folder: Path) -> dict[str, str]:
    """Execute ``nb`` in a real kernel in ``folder``; the text each ``grader.check("q…")`` cell printed."""
    import nbclient

    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}}).execute()
    outputs = {}
    for cell in nb.cells:
        m = re.fullmatch(r'grader\.check\("(q\w+)"\)', cell.source.strip())
        if m:
            outputs[m.group(1)] = "".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                                          + str(o.get("evalue", "")) for o in cell.outputs)
    return outputs


class Project:
    """A copy of the project (code, reference and chosen assignments) and its command line."""

    def __init__(self, root: Path, assignments: tuple[str, ...]):
        self.root = root
        for name in ("autograder", "reference"):
            shutil.copytree(PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in assignments:
            shutil.copytree(PROJECT_ROOT / "assignments" / name, root / "assignments" / name)
        (root / "assignments").mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / "otter_config.json", root / "otter_config.json")

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(self.root)}
        return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def digest(self, folder: str) -> dict[str, str]:
        return {str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((self.root / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "project", ())


@pytest.fixture(scope="session")
def hw0():
    return load_assignment("hw0")


@pytest.fixture(scope="session")
def built(tmp_path_factory, hw0):
    return build(hw0, dist=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def solution_nb(built):
    return nbformat.read(built.solution_notebook, as_version=4)
