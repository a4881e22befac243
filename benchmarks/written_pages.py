"""Benchmark: `autograder written` on a class of submissions (pages, index, scores.csv).

    .venv/bin/python benchmarks/written_pages.py --n 500

Submissions are the built hw0 student notebook with every written answer filled in
(Markdown with inline and display LaTeX, a few paragraphs, an embedded PNG in one in
ten), some answers blank, and one pair in twenty copied.  Target: 500 submissions'
written answers into pages well under a minute.  Prints the time, the time per
submission, the pages' total size and the peak memory.  Needs a build or makes one.
"""

from __future__ import annotations

import argparse
import base64
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from autograder.assignment import load_assignment  # noqa: E402
from autograder.build import build  # noqa: E402
from autograder.written import PLACEHOLDER, write_written  # noqa: E402

TARGET_SECONDS = 60.0


def _png() -> str:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2, 3], [0, 1, 4, 9])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def answer(i: int, k: int) -> str:
    return (f"Student {i // 20 if i % 20 == 1 else i}, part {k}. Write the function in index notation, "
            f"$f(x) = \\sum_{{i,j}} x_i A_{{ij}} x_j$, and differentiate with respect to $x_k$:\n\n"
            f"$$\\frac{{\\partial f}}{{\\partial x_k}} = \\sum_j A_{{kj}} x_j + \\sum_i x_i A_{{ik}} .$$\n\n"
            "So the row is $x^\\top (A + A^\\top)$, of shape $(1, n)$; for a symmetric $A$ it is $2 x^\\top A$. "
            "This is the gradient transposed: it points where $f$ grows fastest.\n")


def make_submissions(folder: Path, n: int, template: Path) -> None:
    student = nbformat.read(template, as_version=4)
    png = _png()
    for i in range(n):
        nb = nbformat.from_dict(student)
        k = 0
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.strip() == PLACEHOLDER:
                k += 1
                if (i + k) % 9 == 0:
                    continue  # left blank
                cell.source = answer(i, k)
                if i % 10 == 0 and k == 1:
                    cell.source += "\n![sketch](attachment:sketch.png)"
                    cell["attachments"] = {"sketch.png": {"image/png": png}}
        nbformat.write(nb, folder / f"s{i:04d}.ipynb")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--dist", type=Path, help="an existing build (default: build hw0 into a temporary folder)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        assignment = load_assignment("hw0")
        dist = args.dist or tmp / "dist"
        template = dist / "hw0" / "student" / "hw0.ipynb"
        if not template.exists():
            build(assignment, dist=dist)
        subs = tmp / "subs"
        subs.mkdir()
        make_submissions(subs, args.n, template)
        start = time.perf_counter()
        counts = write_written(assignment, [subs], tmp / "out")
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in (tmp / "out").iterdir())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{counts['submissions']} submissions × {counts['questions']} written questions: {seconds:.1f} s "
          f"({1000 * seconds / args.n:.1f} ms per submission); {counts['blank']} blank, "
          f"{counts['duplicates']} flagged as duplicates")
    print(f"pages: {size / 2**20:.1f} MiB in all; peak memory {peak:.0f} MiB")
    print(f"target: {args.n} submissions well under {TARGET_SECONDS:.0f} s -> "
          f"{'met' if seconds < TARGET_SECONDS / 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
