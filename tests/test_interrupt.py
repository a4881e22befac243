"""Ctrl-C during ``autograder grade``: stop cleanly, write what was graded, resume on rerun."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from conftest import load_catalogue, with_function

from autograder.batch import journal_path


def _class(tmp_path, built, solution_nb, n=12):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(built.solution_notebook, folder / "s001_hw0.ipynb")
    shutil.copy(built.student_notebook, folder / "s002_hw0.ipynb")
    for k, entry in enumerate(load_catalogue()[:n - 2]):
        nbformat.write(with_function(solution_nb, entry["code"]), folder / f"s{k + 3:03d}_hw0.ipynb")
    return folder


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _keys(journal: bytes) -> list[str]:
    return [json.loads(line)["key"] for line in journal.decode().splitlines()]


def test_ctrl_c_writes_what_was_graded_and_the_rerun_resumes(tmp_path, built, solution_nb):
    folder = _class(tmp_path, built, solution_nb)
    paths = sorted(str(p) for p in folder.iterdir())
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\n" + "".join(f"s{k:03d}\n" for k in range(1, 13)))
    out, report = tmp_path / "grades.csv", tmp_path / "report.html"
    cmd = [sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out), "--jobs", "1",
           "--roster", str(roster), "--report", str(report), "--feedback-dir", str(tmp_path / "fb"), str(folder)]
    workers_before = set(Path("/tmp").glob("dlmath-worker-*"))
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = journal_path(out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not journal.exists() or journal.read_bytes().count(b"\n") < 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # the process only, as a terminal's Ctrl-C would reach it (not its sandboxes)
    stdout, stderr = proc.communicate(timeout=120)
    first = journal.read_bytes()
    done = _keys(first)
    n = len(done)
    assert 2 <= n < len(paths)
    assert proc.returncode == 130, stderr.decode()[-2000:]
    assert f"interrupted: {n} of {len(paths)} graded; rerun the same command to resume" in stderr.decode()
    assert "Traceback" not in stderr.decode() + stdout.decode()
    statuses = {json.loads(line)["key"]: json.loads(line)["result"]["status"] for line in first.decode().splitlines()}
    assert "kernel-died" not in statuses.values()  # the cut-off submission was dropped, not recorded as crashed
    assert sorted(r[0] for r in _rows(out)[1:]) == sorted(done)
    graded = [r for r in _rows(out.with_name("grades-roster.csv"))[1:] if r[2] != "pending"]
    assert sorted(r[1] for r in graded) == sorted(done)
    assert f"<td>submissions</td><td>{n}</td>" in report.read_text()
    assert len(list((tmp_path / "fb").iterdir())) == n
    assert set(Path("/tmp").glob("dlmath-worker-*")) - workers_before == set()  # no worker folder left behind

    rerun = subprocess.run(cmd, capture_output=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert f"resuming: {n} of {len(paths)} already graded; grading {len(paths) - n}" in rerun.stderr.decode()
    second = journal.read_bytes()
    assert second.startswith(first)  # nothing journaled before was rewritten
    added = _keys(second[len(first):])
    assert sorted(added) == sorted(set(paths) - set(done))  # exactly the missing ones, each once
    assert sorted(r[0] for r in _rows(out)[1:]) == paths
    assert all(r[2] == "ok" for r in _rows(out.with_name("grades-roster.csv"))[1:])
    assert f"<td>submissions</td><td>{len(paths)}</td>" in report.read_text()
