"""Submission files are hostile input: their names, their types, their sizes, and whom they name.

Real files, the real grader (``autograder grade`` as a subprocess where the console
or memory is what is checked); no mocks.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import struct
import subprocess
import sys
import unicodedata
import zipfile
import zlib
from pathlib import Path

from autograder.batch import grade_batch, journal_path
from autograder.feedback import feedback_name
from autograder.roster import owners, write_roster_gradebook
from autograder.submissions import label

SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}\.md")
# names chosen to break the gradebook, the feedback files and the TA's terminal
HOSTILE = [
    b"a" * 245 + b".ipynb",  # with a folder prefix, far past NAME_MAX for a feedback file
    b"caf\xe9\xff.ipynb",  # not UTF-8
    b"fake\n              ok   41.00 of 41  z.ipynb",  # forges a console line
    b"x\r              ok   41.00 of 41  fake.ipynb",  # overwrites the console line
    b"osc\x1b]52;c;ZWNobyBwd25lZA==\x07.ipynb",  # OSC 52: writes the TA's clipboard
    b"csi\x1b[2J\x1b[31mred.ipynb",  # clears the screen
    b"c1\xc2\x9b2J.ipynb",  # the one-character (C1) CSI
    "bidi\u202egnp.ipynb".encode(),  # displays reversed
]


def _cli(*args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", *map(str, args)],
                          capture_output=True, timeout=timeout, **kw)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _hidden(text: str) -> list[str]:
    """Characters a terminal would act on or a reader be fooled by (all but the newline)."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


def test_colliding_names_get_their_own_feedback(tmp_path, built):
    folder = tmp_path / "subs"
    (folder / "bob").mkdir(parents=True)
    shutil.copy(built.solution_notebook, folder / "bob__hw0.ipynb")
    shutil.copy(built.student_notebook, folder / "bob" / "hw0.ipynb")
    fb = tmp_path / "fb"
    proc = _cli("--out", tmp_path / "g.csv", "--feedback-dir", fb, "--quiet", folder)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    names = sorted(p.name for p in fb.iterdir())
    assert len(names) == 2 and all(SAFE_NAME.fullmatch(n) for n in names)
    full = (fb / feedback_name(str(folder / "bob__hw0.ipynb"))).read_text()
    blank = (fb / feedback_name(str(folder / "bob" / "hw0.ipynb"))).read_text()
    assert "**41 / 41**" in full and "What to reconsider" not in full
    assert "**0 / 41**" in blank and "What to reconsider" in blank


def test_hostile_names_each_get_a_row_and_never_reach_the_console(tmp_path, built):
    folder = tmp_path / "subs"
    (folder / "bob").mkdir(parents=True)
    for name in HOSTILE:
        shutil.copy(built.solution_notebook, os.fsencode(folder) + b"/" + name)
    shutil.copy(built.student_notebook, folder / "bob" / "hw0.ipynb")
    shutil.copy(built.solution_notebook, folder / "bob__hw0.ipynb")
    fb, report = tmp_path / "fb", tmp_path / "report.html"
    proc = _cli("--out", tmp_path / "g.csv", "--feedback-dir", fb, "--report", report, "--jobs", "2", folder)
    console = (proc.stdout + proc.stderr).decode("utf-8")  # every byte printed is valid UTF-8, too
    assert proc.returncode == 0, console[-2000:]
    assert _hidden(console) == [] and "Traceback" not in console
    paths = sorted(folder.rglob("*.ipynb"))
    assert len(paths) == len(HOSTILE) + 2
    rows = {r[0]: r for r in _rows(tmp_path / "g.csv")[1:]}
    assert sorted(rows) == sorted(label(p) for p in paths)  # one row each, under its label
    assert all(_hidden(shown) == [] for shown in rows)
    assert rows[label(folder / "bob" / "hw0.ipynb")][1:3] == ["ok", "0"]
    assert all(rows[label(p)][1:3] == ["ok", "41"] for p in paths if p.name != "hw0.ipynb")
    assert r"caf\xe9\xff.ipynb" in rows[label(folder / os.fsdecode(b"caf\xe9\xff.ipynb"))][0]
    assert not any(line.lstrip().startswith("ok   41.00 of 41") for line in console.splitlines())
    written = sorted(p.name for p in fb.iterdir())
    assert len(written) == len(paths) and all(SAFE_NAME.fullmatch(n) for n in written)
    assert sorted(written) == sorted(feedback_name(str(p)) for p in paths)
    page = report.read_text(encoding="utf-8")
    assert "\x1b" not in page and "\u202e" not in page and "\r" not in page


def test_roster_never_hands_a_student_someone_elses_file(tmp_path, built, hw0):
    folder = tmp_path / "subs"
    folder.mkdir()
    mine, attacker = folder / "s123_hw0.ipynb", folder / "s999_hw0_s123.ipynb"
    shutil.copy(built.solution_notebook, mine)
    shutil.copy(built.student_notebook, attacker)
    os.utime(attacker, (2e9, 2e9))  # the newer one: the old rule picked it
    shutil.copy(built.solution_notebook, folder / "s001_hw0.ipynb")
    results = grade_batch([folder], hw0.plan, out=tmp_path / "g.csv", progress=False)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\ns001\ns123\n")
    out = tmp_path / "roster-grades.csv"
    write_roster_gradebook(roster, results, hw0.plan, out)
    rows = _rows(out)[1:]
    by_id = {r[0]: r for r in rows if r[0]}
    assert by_id["s001"][1:4] == [label(folder / "s001_hw0.ipynb"), "ok", "41"]
    assert by_id["s123"][1:4] == ["", "ambiguous", "0"]
    assert label(mine) in by_id["s123"][-1] and label(attacker) in by_id["s123"][-1]
    assert "'submission' column" in by_id["s123"][-1]
    unassigned = {r[1]: r for r in rows if not r[0]}
    assert sorted(unassigned) == sorted([label(mine), label(attacker)])
    assert all("not assigned" in r[-1] and "s123" in r[-1] for r in unassigned.values())
    assert owners([{"student_id": "s001"}, {"student_id": "s123"}], [str(p) for p in sorted(folder.iterdir())]) \
        == {str(folder / "s001_hw0.ipynb"): "s001"}
    # the TA settles it in the roster: s123's named file is theirs, the other one nobody's
    roster.write_text("student_id,submission\ns001,\ns123,s123_hw0.ipynb\n")
    write_roster_gradebook(roster, results, hw0.plan, out)
    rows = _rows(out)[1:]
    assert {r[0]: r for r in rows if r[0]}["s123"][1:4] == [label(mine), "ok", "41"]
    assert [(r[1], r[-1]) for r in rows if not r[0]] == [(label(attacker), "")]


def _lying_zip(path: Path, *, inflated: int = 2**30, claimed: int = 1000) -> None:
    """A ~1 MB zip whose one entry, ``hw0.ipynb``, inflates to ``inflated`` bytes while both of its
    headers claim ``claimed``.  Built from one deflated MiB of spaces repeated (each copy ends
    with a full flush, so it decodes on its own), then the two size fields set to the lie."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp.compress(b" " * 2**20)
    comp.flush(zlib.Z_FULL_FLUSH)
    piece = comp.compress(b" " * 2**20) + comp.flush(zlib.Z_FULL_FLUSH)
    data = piece * (inflated // 2**20) + comp.flush(zlib.Z_FINISH)
    name, crc = b"hw0.ipynb", 0
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), claimed, len(name), 0) + name
    central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), claimed, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def _peak_rss_mb(args: list, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI in a child that reports its own peak RSS (the trusted grader's, not the sandboxes')."""
    code = ("import resource, sys\nfrom autograder.cli import main\nrc = main(sys.argv[1:])\n"
            "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "grade", "--assignment", "hw0", *map(str, args)],
                          capture_output=True, timeout=timeout)
    peak = re.search(rb"PEAK_RSS_KB (\d+)", proc.stderr)
    assert peak, proc.stderr.decode()[-2000:]
    return proc, int(peak.group(1)) / 1024


def test_oversized_files_are_invalid_and_memory_stays_bounded(tmp_path, built, hw0):
    folder = tmp_path / "subs"
    folder.mkdir()
    with open(folder / "sparse_hw0.ipynb", "wb") as f:
        f.truncate(4 * 2**30)  # 4 GiB, no disk used
    _lying_zip(folder / "bomb_hw0.zip")
    assert (folder / "bomb_hw0.zip").stat().st_size < 2**21
    shutil.copy(built.solution_notebook, folder / "honest_hw0.ipynb")
    with zipfile.ZipFile(folder / "honest_export.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(built.solution_notebook, "hw0.ipynb")
    out = tmp_path / "g.csv"
    proc, peak_mb = _peak_rss_mb(["--out", out, "--quiet", "--jobs", "1", folder])
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert peak_mb < 500, f"the grader peaked at {peak_mb:.0f} MB"
    rows = {Path(r[0]).name: r[1:3] for r in _rows(out)[1:]}
    assert rows == {"sparse_hw0.ipynb": ["invalid-notebook", "0"], "bomb_hw0.zip": ["invalid-notebook", "0"],
                    "honest_hw0.ipynb": ["ok", f"{hw0.max_score:g}"], "honest_export.zip": ["ok", f"{hw0.max_score:g}"]}
    journal = journal_path(out).read_text()
    assert "too large" in journal and "not a valid zip file" in journal


def test_fifo_named_like_a_notebook_is_not_read(tmp_path, built):
    folder = tmp_path / "subs"
    folder.mkdir()
    os.mkfifo(folder / "x.ipynb")
    os.mkfifo(tmp_path / "direct.ipynb")
    shutil.copy(built.solution_notebook, folder / "s1_hw0.ipynb")
    out = tmp_path / "g.csv"
    proc = _cli("--out", out, "--quiet", folder, tmp_path / "direct.ipynb", timeout=120)  # a read would hang
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    rows = {Path(r[0]).name: r[1] for r in _rows(out)[1:]}
    assert rows == {"x.ipynb": "invalid-notebook", "direct.ipynb": "invalid-notebook", "s1_hw0.ipynb": "ok"}
    assert "not a regular file" in journal_path(out).read_text()
