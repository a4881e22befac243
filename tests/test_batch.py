"""Batches: resume after an interrupt, roster, feedback files, the class report in Chromium."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
from conftest import load_catalogue, with_function

from autograder.batch import grade_batch, journal_path, load_journal
from autograder.report import misconception_counts


def _class(tmp_path, built, solution_nb, n_wrong=8):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(built.solution_notebook, folder / "s001_hw0.ipynb")
    shutil.copy(built.student_notebook, folder / "s002_hw0.ipynb")
    (folder / "s003_hw0.ipynb").write_text("{ not json")
    for k, entry in enumerate(load_catalogue()[:n_wrong]):
        nbformat.write(with_function(solution_nb, entry["code"]), folder / f"s{k + 10:03d}_hw0.ipynb")
    return folder


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_interrupted_batch_resumes_without_regrading(tmp_path, built, solution_nb, hw0):
    folder = _class(tmp_path, built, solution_nb, n_wrong=10)
    total = len(list(folder.iterdir()))
    out = tmp_path / "grades.csv"
    cmd = [sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out),
           "--jobs", "1", "--quiet", str(folder)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = journal_path(out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 3):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the harshest interrupt: no cleanup at all
    proc.wait()
    first = load_journal(journal, hw0.plan.fingerprint)
    first_bytes = journal.read_bytes()
    assert 3 <= len(first) < total
    rows = _rows(out)
    assert all(len(r) == 4 + len(hw0.question_ids) for r in rows)  # no torn row
    subprocess.run(cmd, check=True, timeout=600)
    after = journal.read_bytes()
    assert after.startswith(first_bytes)  # journaled results are never rewritten
    added = [json.loads(line)["key"] for line in after[len(first_bytes):].decode().splitlines()
             if line.strip().endswith("}")]
    assert sorted(added) == sorted(set(map(str, folder.iterdir())) - set(first))  # the missing ones, each once
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip().endswith("}")]
    keys = [e["key"] for e in entries]
    assert sorted(set(keys)) == sorted(keys), "a submission was graded twice"
    assert len(keys) == total
    rows = _rows(out)
    assert rows[0][:4] == ["submission", "status", "score", "max_score"]
    assert sorted(r[0] for r in rows[1:]) == sorted(str(p) for p in folder.iterdir())
    # a third run grades nothing and writes the same gradebook
    before = out.read_text()
    subprocess.run(cmd, check=True, timeout=600)
    assert out.read_text() == before
    assert len(journal.read_text().splitlines()) == len(entries)


def test_changed_submission_is_regraded(tmp_path, built, solution_nb, hw0):
    folder = tmp_path / "subs"
    folder.mkdir()
    path = folder / "s1.ipynb"
    shutil.copy(built.student_notebook, path)
    out = tmp_path / "g.csv"
    assert grade_batch([folder], hw0.plan, out=out, progress=False)[0].score == 0
    shutil.copy(built.solution_notebook, path)
    assert grade_batch([folder], hw0.plan, out=out, progress=False)[0].score == hw0.max_score
    assert len(_rows(out)) == 2


def _two(tmp_path, built):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(built.solution_notebook, folder / "s1.ipynb")
    shutil.copy(built.student_notebook, folder / "s2.ipynb")
    return folder


def test_fresh_regrades_everything(tmp_path, built, hw0):
    folder, out, graded = _two(tmp_path, built), tmp_path / "g.csv", []
    handler = signal.getsignal(signal.SIGINT)
    grade_batch([folder], hw0.plan, out=out, progress=False, on_result=graded.append)
    assert len(graded) == 2
    assert signal.getsignal(signal.SIGINT) is handler  # grading's own Ctrl-C handler is gone again
    grade_batch([folder], hw0.plan, out=out, progress=False, on_result=graded.append)
    assert len(graded) == 2  # a plain rerun grades nothing
    results = grade_batch([folder], hw0.plan, out=out, progress=False, fresh=True, on_result=graded.append)
    assert len(graded) == 4 and [r.score for r in results] == [hw0.max_score, 0]
    assert len(journal_path(out).read_text().splitlines()) == 2  # the old journal was dropped
    assert len(_rows(out)) == 3


def test_changed_points_regrade(tmp_path, built, hw0):
    folder, out, graded = _two(tmp_path, built), tmp_path / "g.csv", []
    grade_batch([folder], hw0.plan, out=out, progress=False, on_result=graded.append)
    points = {**hw0.plan.points, "q1a": hw0.plan.points["q1a"] + 3}
    cases = [{**c, "points": c["points"] * points[c["qid"]] / hw0.plan.points[c["qid"]]} for c in hw0.plan.cases]
    heavier = dataclasses.replace(hw0.plan, points=points, cases=cases)
    assert heavier.fingerprint != hw0.plan.fingerprint
    results = grade_batch([folder], heavier, out=out, progress=False, on_result=graded.append)
    assert len(graded) == 4  # both regraded under the new points
    assert [r.max_score for r in results] == [hw0.max_score + 3] * 2
    assert results[0].score == hw0.max_score + 3 and results[0].scores["q1a"] == points["q1a"]
    assert _rows(out)[1][2:4] == [f"{hw0.max_score + 3:g}", f"{hw0.max_score + 3:g}"]


def test_roster_feedback_and_report(tmp_path, built, solution_nb, hw0):
    folder = _class(tmp_path, built, solution_nb, n_wrong=4)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\ns001,Ada\ns002,Ben\ns003,Cy\ns010,Di\ns099,Eve\n")
    out = tmp_path / "grades.csv"
    report = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out),
                    "--roster", str(roster), "--report", str(report), "--feedback-dir", str(tmp_path / "fb"),
                    "--quiet", str(folder)], check=True, timeout=600)
    by_id = {r[0]: r for r in _rows(tmp_path / "grades-roster.csv")[1:]}  # the roster's name follows the id
    assert by_id["s001"][1] == "Ada" and by_id["s001"][3:5] == ["ok", f"{hw0.max_score:g}"]
    assert by_id["s003"][3] == "invalid-notebook"
    assert by_id["s099"][1:4] == ["Eve", "", "missing"]
    assert sum(1 for r in _rows(tmp_path / "grades-roster.csv")[1:] if r[0] == "") == 3  # s011..s013 unmatched
    feedback = sorted((tmp_path / "fb").glob("*.md"))
    assert len(feedback) == len(list(folder.iterdir()))
    wrong = (tmp_path / "fb" / feedback[4].name).read_text()
    assert "What to reconsider" in wrong
    page = report.read_text()
    for section in ("Score distribution", "Pass rate per question", "Most common misconceptions", "Timed out"):
        assert section in page
    assert "http://" not in page and "https://" not in page  # self-contained
    _check_in_chromium(report, tmp_path)


def _check_in_chromium(page, tmp_path):
    """Load the report in headless Chromium with no network; every plot must decode."""
    script = ("setTimeout(()=>{const imgs=[...document.images];"
              "document.title='IMAGES '+imgs.length+' OK '+imgs.filter(i=>i.complete&&i.naturalWidth>100).length},500)")
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", f"<script>{script}</script></body>"))
    proc = subprocess.run(["unshare", "-n", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=3000", "--dump-dom",
                           probe.as_uri()], capture_output=True, text=True, timeout=120)
    title = proc.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == "IMAGES 2 OK 2", (title, proc.stderr[-500:])


def test_misconceptions_are_counted(tmp_path, built, solution_nb, hw0):
    entry = next(e for e in load_catalogue() if e["id"] == "q1d-symmetric-formula")
    path = tmp_path / "m.ipynb"
    nbformat.write(with_function(solution_nb, entry["code"]), path)
    results = grade_batch([path], hw0.plan, out=tmp_path / "g.csv", progress=False)
    (q, message, n), *_ = misconception_counts(results)
    assert (q, n) == ("q1d", 1) and "symmetric" in message
