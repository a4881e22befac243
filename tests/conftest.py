"""Shared fixtures: one real build of hw0 per test session, and notebook surgery helpers."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from autograder import variants  # noqa: E402
from autograder.assignment import load_assignment  # noqa: E402
from autograder.build import build  # noqa: E402


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


@pytest.fixture(scope="session")
def hw0():
    return load_assignment("hw0")


@pytest.fixture(scope="session")
def built(tmp_path_factory, hw0):
    return build(hw0, dist=tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def solution_nb(built):
    return nbformat.read(built.solution_notebook, as_version=4)
