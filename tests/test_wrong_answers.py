"""The catalogue of plausible wrong answers: each loses points on its own question only."""

from __future__ import annotations

from collections import Counter

import nbformat
import pytest
import solution
from conftest import hw0_cases, hw0_checks, hw0_runtime, load_catalogue, with_function

from autograder.batch import grade_paths

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships

CATALOGUE = load_catalogue()
SEVERAL = ["q1d", "q2b", "q3d", "q3e", "q4a", "q4b", "q4d"]


def test_catalogue_covers_every_question(hw0):
    counts = Counter(e["qid"] for e in CATALOGUE)
    assert len(CATALOGUE) >= 40
    assert set(hw0.question_ids) <= set(counts)
    assert all(counts[q] >= 2 for q in SEVERAL), counts
    assert len({e["id"] for e in CATALOGUE}) == len(CATALOGUE)


def _passes_all(ns: dict, cases: list[dict]) -> bool:
    return all(runtime.run_case(ns.get(c["func"]), c)[0] for c in cases)


@pytest.mark.parametrize("entry", CATALOGUE, ids=[e["id"] for e in CATALOGUE])
def test_wrong_answer_is_caught_on_every_seed(entry):
    """In process, on 25 seeds: the wrong function fails some case of its question."""
    ns = solution.namespace()
    exec(entry["code"], ns)
    checks = [c for c in hw0_checks() if c.qid == entry["qid"]]
    escaped = [seed for seed in range(25) if _passes_all(ns, hw0_cases(seed, checks=checks))]
    assert escaped == [], f"{entry['id']} earned full marks on seeds {escaped}"


def test_catalogue_through_the_real_grader(tmp_path, hw0, solution_nb):
    """Every entry as a real notebook, graded as a batch by `autograder grade`'s library."""
    paths = []
    for entry in CATALOGUE:
        path = tmp_path / f"{entry['id']}.ipynb"
        nbformat.write(with_function(solution_nb, entry["code"]), path)
        paths.append(path)
    results = {r.submission: r for r in grade_paths(paths, hw0.plan)}
    for entry, path in zip(CATALOGUE, paths):
        r = results[str(path)]
        assert r.status == "ok", (entry["id"], r.status, r.message)
        assert r.scores[entry["qid"]] < hw0.points[entry["qid"]], entry["id"]
        others = {q: s for q, s in r.scores.items() if q != entry["qid"]}
        assert others == {q: hw0.points[q] for q in others}, entry["id"]
        failed = [v for v in r.feedback if not v["passed"]]
        assert failed and all(v["message"] for v in failed)
