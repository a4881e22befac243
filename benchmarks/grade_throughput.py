"""Benchmark: `autograder grade` against sequential `otter run`, same machine, same run.

    .venv/bin/python benchmarks/grade_throughput.py --n 50            # otter run on all 50
    .venv/bin/python benchmarks/grade_throughput.py --n 200 --otter 10 # otter run on a sample

Every job runs in a jail of its own (new PID, mount and IPC namespaces, fresh /tmp)
forked from a warm worker, so the isolation costs a fork and a few mounts, not a
Python start.  Targets: sandboxed ≤ 1.2× unsandboxed, ≥ 30× sequential `otter run`.
Submissions are realistic: the solution, the blank notebook and the wrong answers of
the test catalogue, cycled.  Prints seconds per submission, throughput, their
ratio, peak memory, and the time 1000 submissions would take at the measured rate.
Needs a build (``autograder build``) or builds one itself.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import load_catalogue, with_function  # noqa: E402


def make_submissions(folder: Path, n: int, dist: Path) -> list[Path]:
    solution = nbformat.read(dist / "autograder" / "hw0.ipynb", as_version=4)
    blank = nbformat.read(dist / "student" / "hw0.ipynb", as_version=4)
    variants = [solution, blank] + [with_function(solution, e["code"]) for e in load_catalogue()]
    paths = []
    for i in range(n):
        path = folder / f"s{i:04d}.ipynb"
        nbformat.write(variants[i % len(variants)], path)
        paths.append(path)
    return paths


def time_autograder(folder: Path, jobs: int, out: Path, sandbox: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/autograder"), "grade", "--assignment", "hw0", "--out", str(out),
                    "--jobs", str(jobs), "--quiet", "--fresh", "--sandbox", sandbox, str(folder)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_otter(paths: list[Path], zip_path: Path, scratch: Path) -> float:
    start = time.perf_counter()
    for i, path in enumerate(paths):
        out = scratch / f"otter{i}"
        out.mkdir()
        subprocess.run([str(ROOT / ".venv/bin/otter"), "run", "-a", str(zip_path), "-o", str(out), str(path)],
                       check=True, capture_output=True)
    return time.perf_counter() - start


def python_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="submissions for autograder grade")
    parser.add_argument("--otter", type=int, default=None, help="submissions for otter run (default: all n)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sandbox", default="bwrap", choices=["bwrap", "auto", "none"])
    parser.add_argument("--dist", default=str(ROOT / "dist" / "hw0"))
    args = parser.parse_args()
    dist = Path(args.dist)
    if not dist.exists():
        subprocess.run([str(ROOT / ".venv/bin/autograder"), "build", "--assignment", "hw0"], check=True)
    zip_path = next((dist / "autograder").glob("*.zip"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "subs").mkdir()
        paths = make_submissions(tmp / "subs", args.n, dist)
        bare = time_autograder(tmp / "subs", args.jobs, tmp / "grades.csv", "none")
        ours = time_autograder(tmp / "subs", args.jobs, tmp / "grades.csv", args.sandbox)
        ours_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        k = min(args.otter or args.n, args.n)
        theirs = time_otter(paths[:k], zip_path, tmp)
        floor = python_floor()
        shutil.rmtree(tmp / "subs")
    per_ours, per_theirs = ours / args.n, theirs / k
    print(f"submissions: autograder grade {args.n} (--jobs {args.jobs}); otter run {k}, one by one")
    print(f"autograder grade: {ours:8.1f} s total  {per_ours:6.3f} s/submission  {args.n / ours:6.2f} submissions/s"
          f"  (--sandbox {args.sandbox})")
    print(f"  without sandbox:{bare:8.1f} s total  {bare / args.n:6.3f} s/submission  "
          f"sandbox cost: {ours / bare:.2f}x")
    print(f"otter run:        {theirs:8.1f} s total  {per_theirs:6.3f} s/submission  {k / theirs:6.2f} submissions/s")
    print(f"throughput ratio (autograder grade / otter run): {per_theirs / per_ours:.1f}x")
    print(f"targets: sandbox cost <= 1.2x: {'met' if ours / bare <= 1.2 else 'MISSED'}; "
          f"throughput >= 30x otter run: {'met' if per_theirs / per_ours >= 30 else 'MISSED'}")
    print(f"1000 submissions at this rate: {1000 * per_ours / 60:.1f} min (otter run: {1000 * per_theirs / 60:.1f} min)")
    print(f"floor, one `python -c 'import numpy'`: {floor:.3f} s "
          f"(÷{args.jobs} cores = {floor / args.jobs:.3f} s/submission)")
    print(f"peak RSS of the largest child process: {ours_peak:.0f} MiB")


if __name__ == "__main__":
    main()
