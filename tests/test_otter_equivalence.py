"""`otter run` with the built zip and `autograder grade` agree question by question."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from conftest import load_catalogue, with_function

from autograder.batch import grade_paths

# Wrong answers spread over the four problems, including shape errors and exceptions.
SAMPLE = ["q1d-symmetric-formula", "q1f-forward", "q2b-sigma-shape", "q3c-lambda-times",
          "q3h-normal-equations", "q4b-case-iii-left", "q4d-updated-W2"]


def otter_scores(zip_path: Path, notebook: Path, out: Path) -> dict[str, float]:
    out.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(out), str(notebook)],
                   check=True, capture_output=True, timeout=600)
    results = json.loads((out / "results.json").read_text())
    return {t["name"]: t["score"] for t in results["tests"] if "score" in t}


def test_otter_run_and_autograder_grade_agree(tmp_path, built, hw0, solution_nb):
    catalogue = {e["id"]: e for e in load_catalogue()}
    notebooks = {"solution": built.solution_notebook, "blank": built.student_notebook}
    for name in SAMPLE:
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(with_function(solution_nb, catalogue[name]["code"]), path)
        notebooks[name] = path
    ours = {name: r for name, r in zip(notebooks, grade_paths(list(notebooks.values()), hw0.plan))}
    with ThreadPoolExecutor(2) as pool:
        theirs = dict(zip(notebooks, pool.map(
            lambda item: otter_scores(built.autograder_zip, item[1], tmp_path / f"otter-{item[0]}"),
            notebooks.items())))
    for name in notebooks:
        assert ours[name].status == "ok"
        for qid in hw0.question_ids:
            # otter rounds question scores to 5 decimals
            assert abs(ours[name].scores[qid] - theirs[name][qid]) < 1e-5, (name, qid)
    assert ours["solution"].score == hw0.max_score
    assert ours["blank"].score == 0
    for name in SAMPLE:
        assert ours[name].scores[catalogue[name]["qid"]] < hw0.points[catalogue[name]["qid"]]
