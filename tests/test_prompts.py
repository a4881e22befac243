"""Every coding prompt states its return format as the assignment's contract does.

The contract is each assignment's README.md: tables of ``| id | `function(args)` | returns |``.
For every function, the prompt a student reads (the Markdown above its stub in the built
student notebook) must name the kind of value (array shape, float, bool, tuple, dict,
numbers, Figure) and every shape the contract gives.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder.assignment import PROJECT_ROOT, list_assignments, load_assignment
from autograder.build import build

ROW = re.compile(r"^\|\s*(q\w+)\s*\|\s*`(\w+)\(.*?\)`\s*\|\s*(.+?)\s*\|\s*$")
SHAPE = re.compile(r"`\(([A-Za-z0-9+\- ]+(?:,[A-Za-z0-9+\- ]+)+)\)`")  # `(n, 1)`, `(n + d, d)`; not `(w_new, b_new)`
KINDS = [  # (word in the contract, words one of which the prompt must use)
    ("bool", ("True", "bool")),
    ("float", ("float", "number")),
    ("tuple", ("tuple", "pair", "triple")),
    ("dict", ("dict",)),
    ("numbers", ("numbers",)),
    ("figure", ("Figure",)),
    ("same shape as", ("shape",)),
    ("shape of", ("shape",)),
    ("1-d array", ("1-D", "1-d")),
]


def contract(name: str) -> list[tuple[str, str, str]]:
    text = (PROJECT_ROOT / "assignments" / name / "README.md").read_text(encoding="utf-8")
    return [m.groups() for line in text.splitlines() if (m := ROW.match(line))]


def _normal(text: str) -> str:
    text = re.sub(r"\\[,;:! ]|\\left|\\right|\\big|\$|`|\s", "", text)
    return text.replace("\\times", "×")


def prompts(notebook) -> dict[str, str]:
    """Each stub's function → the Markdown of its question a student reads (since the previous
    question's ``grader.check`` cell: a question with two functions has one prompt for both)."""
    out, above = {}, []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            above.append(cell.source)
        elif cell.cell_type == "code" and (m := re.match(r"\s*def (\w+)\(", cell.source)):
            out[m.group(1)] = "\n".join(above)
        elif cell.cell_type == "code" and "grader.check(" in cell.source:
            above = []
    return out


@pytest.fixture(scope="module")
def student_prompts(tmp_path_factory):
    found = {}
    for name in list_assignments():
        out = build(load_assignment(name), dist=tmp_path_factory.mktemp(f"prompts-{name}"))
        found[name] = prompts(nbformat.read(out.student_notebook, as_version=4))
    return found


@pytest.mark.parametrize("name", list_assignments())
def test_every_prompt_names_its_return_type_and_shape_as_the_contract_does(student_prompts, name):
    rows = contract(name)
    assert len(rows) >= 10, f"{name}'s README.md holds no contract table"
    missing = []
    for qid, func, returns in rows:
        prompt = student_prompts[name].get(func)
        if prompt is None:
            missing.append(f"{qid} {func}: no stub `def {func}(` in the student notebook")
            continue
        lowered = returns.lower()
        for word, accepted in KINDS:
            if word in lowered.split(":")[0] and not any(a in prompt for a in accepted):
                missing.append(f"{qid} {func}: the prompt never says it returns a {word} ({'/'.join(accepted)})")
        for shape in SHAPE.findall(returns):
            if f"({_normal(shape)})" not in _normal(prompt):
                missing.append(f"{qid} {func}: the prompt does not state the shape ({shape})")
        if not SHAPE.findall(returns) and not any(w in lowered.split(":")[0] for w, _ in KINDS):
            missing.append(f"{qid} {func}: the contract's return format is not recognised: {returns[:60]}")
    assert missing == []
