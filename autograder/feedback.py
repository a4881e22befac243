"""Per-student feedback: what passed, what failed, and the teaching message of each failure."""

from __future__ import annotations

import re
from pathlib import Path

from autograder.batch import fmt_points as _fmt
from autograder.batch import write_atomically
from autograder.grade import Result
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


def feedback_markdown(result: Result) -> str:
    lines = [f"# Feedback for {untrusted_text(Path(result.submission).name)}", "",
             f"Status: **{result.status}**. Autograded score: **{_fmt(result.score)} / {_fmt(result.max_score)}**.", ""]
    if result.message:
        lines += [f"Notes: {untrusted_text(result.message)}", ""]
    by_question: dict[str, list[dict]] = {}
    for v in result.feedback:
        by_question.setdefault(v["qid"], []).append(v)
    lines += ["| question | points | checks passed |", "|---|---|---|"]
    for qid, score in result.scores.items():
        verdicts = by_question.get(qid, [])
        lines.append(f"| {qid} | {_fmt(score)} | {sum(v['passed'] for v in verdicts)} / {len(verdicts)} |")
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for v in result.feedback:
        if not v["passed"]:
            groups.setdefault((v["qid"], v["func"], v["message"].split("]: ", 1)[-1]), []).append(v)
    if groups:
        lines += ["", "## What to reconsider", ""]
        for (qid, func, message), failed in groups.items():
            kinds = sorted({"hidden" if v["hidden"] else "public" for v in failed})
            count = f"{len(failed)} {' and '.join(kinds)} case{'s' if len(failed) > 1 else ''}"
            lines.append(f"- **{qid}** `{func}` ({count}): {untrusted_text(message)}")
    return "\n".join(lines) + "\n"


def write_feedback(result: Result, folder: Path) -> Path:
    path = folder / feedback_name(result.key or result.submission)
    write_atomically(path, feedback_markdown(result))
    return path
