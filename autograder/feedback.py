"""Per-student feedback: what passed, what failed, and the teaching message of each failure."""

from __future__ import annotations

import re
from pathlib import Path

from autograder.batch import fmt_points as _fmt
from autograder.batch import write_atomically
from autograder.grade import Result
from autograder.plan import GradingPlan
from autograder.submissions import output_name, printable


def feedback_name(key: str) -> str:
    """A safe file name unique to the submission's real path: ``a/b/week3.ipynb`` → ``a__b__week3-<hash>.md``.

    Joining the path's parts alone mapped ``bob__week3.ipynb`` and ``bob/week3.ipynb`` to one file.
    """
    return output_name(key, ".md")


def untrusted_text(text: str) -> str:
    """Text that student code may have chosen (exception messages, type names), as one inline code
    span: no control characters, and nothing a Markdown viewer would render (tags, links, emphasis)."""
    text = printable(text, keep="")
    fence = "`" * (1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence} {text} {fence}"


_LABEL = re.compile(r"^.*? \[\w+ case \d+\]: ", re.S)  # "f(x: (3, 1)) [hidden case 2]: " (checks' labels)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def split_label(message: str) -> tuple[str, str]:
    """A verdict's message as (the case's label, what it says about the answer)."""
    m = _LABEL.match(message)
    return (message[:m.end() - 2], message[m.end():]) if m else ("", message)


def mistake_key(message: str) -> str:
    """What a failure says, whatever the input: the label gone and every number alike, so that
    ``expected shape (5, 12), got (5, 8)`` on one input and ``… (3, 7), got (3, 4)`` on another,
    or one exception's sizes on each input, are one mistake."""
    return _NUMBER.sub("#", split_label(message)[1])


def _cases(failed: list[dict]) -> str:
    public = sum(not v["hidden"] for v in failed)
    hidden = len(failed) - public
    parts = [f"{n} {kind}" for n, kind in ((public, "public"), (hidden, "hidden")) if n]
    return f"{' and '.join(parts)} case{'s' if len(failed) > 1 else ''}"


def _question_max(result: Result, qid: str, plan: GradingPlan | None) -> float | None:
    if plan is not None and qid in plan.points:
        return plan.points[qid]
    points = [v["points"] for v in result.feedback if v["qid"] == qid]
    return sum(points) if points else None


def feedback_markdown(result: Result, plan: GradingPlan | None = None) -> str:
    """The student's feedback; ``plan`` gives each question's points when no check of it ran
    (an invalid notebook), else they are the sum of its checks' points."""
    lines = [f"# Feedback for {untrusted_text(Path(result.submission).name)}", "",
             f"Status: **{result.status}**. Autograded score: **{_fmt(result.score)} / {_fmt(result.max_score)}**.", ""]
    if result.status == "invalid-notebook":
        lines += ["This file could not be graded, so every question has 0 points. Why: "
                  f"{untrusted_text(result.message or 'it is not a notebook')}.", "",
                  "Open the notebook in Jupyter, save it, and submit the `.ipynb` file itself "
                  "(or the zip that its export cell makes).", ""]
    elif result.message:
        lines += [f"Notes: {untrusted_text(result.message)}", ""]
    by_question: dict[str, list[dict]] = {}
    for v in result.feedback:
        by_question.setdefault(v["qid"], []).append(v)
    lines += ["| question | points | checks passed |", "|---|---|---|"]
    for qid, score in result.scores.items():
        verdicts = by_question.get(qid, [])
        top = _question_max(result, qid, plan)
        points = _fmt(score) if top is None else f"{_fmt(score)} / {_fmt(top)}"
        lines.append(f"| {qid} | {points} | {sum(v['passed'] for v in verdicts)} / {len(verdicts)} |")
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for v in result.feedback:
        if not v["passed"]:
            groups.setdefault((v["qid"], v["func"], mistake_key(v["message"])), []).append(v)
    if groups:
        lines += ["", "## What to reconsider", ""]
        for (qid, func, _), failed in groups.items():
            shown = next((v for v in failed if not v["hidden"]), failed[0])  # a public input, when there is one
            label, message = split_label(shown["message"])
            line = f"- **{qid}** `{func}` ({_cases(failed)}): {untrusted_text(message)}"
            if len({split_label(v["message"])[1] for v in failed}) > 1:
                where = f"as on {untrusted_text(label)}; " if label else ""
                line += f" ({where}the numbers differ from case to case)"
            lines.append(line)
    return "\n".join(lines) + "\n"


def write_feedback(result: Result, folder: Path, plan: GradingPlan | None = None) -> Path:
    path = folder / feedback_name(result.key or result.submission)
    write_atomically(path, feedback_markdown(result, plan))
    return path
