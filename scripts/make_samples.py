"""Write sample submissions for the demo: the solution, the blank notebook and a few wrong ones.

The wrong ones come from the assignment's catalogue ``assignments/hw0/catalogue.yaml``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nbformat
import yaml

from autograder.variants import with_function

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["q1d-symmetric-formula", "q2b-sigma-transpose", "q3e-lambda-block", "q4d-updated-W2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out/samples")
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    args = parser.parse_args()
    out, dist = Path(args.out), Path(args.dist) / "hw0"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy(dist / "autograder" / "hw0.ipynb", out / "alice_solution.ipynb")
    shutil.copy(dist / "student" / "hw0.ipynb", out / "bob_blank.ipynb")
    catalogue = {e["id"]: e for e in yaml.safe_load((ROOT / "assignments/hw0/catalogue.yaml").read_text())}
    solution = nbformat.read(dist / "autograder" / "hw0.ipynb", as_version=4)
    for k, name in enumerate(SAMPLES):
        nb = with_function(solution, catalogue[name]["code"])
        nbformat.write(nb, out / f"student{k + 1}_{name}.ipynb")
    (out / "eve_corrupt.ipynb").write_text('{"cells": [')
    print(f"wrote {len(SAMPLES) + 3} sample submissions to {out}")


if __name__ == "__main__":
    main()
