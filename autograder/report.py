"""The class report: one self-contained HTML file (plots embedded as PNG, no network)."""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter
from pathlib import Path

from autograder.batch import write_atomically
from autograder.feedback import split_label
from autograder.grade import Result
from autograder.plan import GradingPlan


def png_data(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _score_histogram(results: list[Result], plan: GradingPlan) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist([r.score for r in results], bins=min(20, max(5, len(results) // 3)), range=(0, plan.max_score),
            color="#4C72B0", edgecolor="white")
    ax.set_xlabel(f"autograded score (out of {plan.max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    return png_data(fig)


def _pass_rates(results: list[Result], plan: GradingPlan) -> tuple[str, dict[str, float]]:
    import matplotlib.pyplot as plt

    rates = {q: (sum(r.scores[q] for r in results) / (len(results) * plan.points[q]) if results else 0.0)
             for q in plan.question_ids}
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.bar(list(rates), [100 * v for v in rates.values()], color="#55A868")
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of points earned")
    ax.set_title("Pass rate per question")
    ax.tick_params(axis="x", rotation=60)
    return png_data(fig), rates


def misconception_counts(results: list[Result]) -> list[tuple[str, str, int]]:
    """(question, misconception, number of submissions that showed it), most common first."""
    counts: Counter = Counter()
    for r in results:
        counts.update({(v["qid"], v["misconception"]) for v in r.feedback if v.get("misconception")})
    return [(q, m, n) for (q, m), n in counts.most_common()]


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """A table; with no ``header``, no heading row (a list of label and value pairs)."""
    head = "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def timed_out_functions(result: Result) -> list[str]:
    """The student's functions whose calls ran past their time limit, in the order of the checks:
    the runtime's verdict then reads ``<label>: `<func>` ran past its time limit…`` (also for the
    calls skipped after one that did)."""
    return list(dict.fromkeys(v["func"] for v in result.feedback if not v["passed"] and split_label(
        v["message"])[1].startswith(f"`{v['func']}` ran past its time limit")))


def trouble_details(result: Result) -> str:
    """What went wrong with a submission that is not ``ok``, for the report's table."""
    parts = []
    slow = timed_out_functions(result)
    if slow:
        parts.append(f"timed out in {', '.join(slow)}")
    if result.message:
        parts.append(result.message[:160] + ("…" if len(result.message) > 160 else ""))
    return "; ".join(parts)


def report_html(results: list[Result], plan: GradingPlan,
                students: tuple[list[str], list[list[str]]] | None = None) -> str:
    """The class report; ``students`` (from a roster: a header and rows, see ``roster.nothing_graded``)
    are the students on the roster with no graded submission."""
    graded = [r for r in results if r.status != "invalid-notebook"]
    scores = [r.score for r in results]
    statuses = Counter(r.status for r in results)
    hist = _score_histogram(results, plan)
    rates_png, rates = _pass_rates(graded, plan)
    trouble = [[r.submission, r.status, trouble_details(r)] for r in results if r.status != "ok"]
    mis = [[q, m, str(n)] for q, m, n in misconception_counts(results)[:15]]
    flagged = [[r.submission, "; ".join(r.flags)] for r in results if r.flags]
    summary = [["submissions", str(len(results))],
               ["mean score", f"{statistics.mean(scores):.2f}" if scores else "–"],
               ["median score", f"{statistics.median(scores):.2f}" if scores else "–"],
               *[[f"status {s}", str(n)] for s, n in sorted(statuses.items())]]
    absent = ""
    if students is not None:
        header, rows = students
        summary.append(["roster students with no graded submission", str(len(rows))])
        absent = "<h2>Roster students with no graded submission</h2>\n" + (
            html_table(header, rows) if rows else "<p>None: every student on the roster has a graded submission.</p>")
    weakest = sorted(rates.items(), key=lambda kv: kv[1])[:5]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(plan.name)} — class report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
img {{ max-width: 100%; }} h2 {{ border-bottom: 1px solid #ddd; }}
</style></head><body>
<h1>{html.escape(plan.name)} — class report</h1>
<h2>Summary</h2>{html_table([], summary)}
<h2>Score distribution</h2><img id="score-distribution" alt="score distribution" src="{hist}">
<h2>Pass rate per question</h2><img id="pass-rates" alt="pass rate per question" src="{rates_png}">
<p>Weakest questions: {", ".join(f"{q} ({100 * v:.0f}%)" for q, v in weakest)}.</p>
<h2>Most common misconceptions</h2>
{html_table(["question", "misconception", "submissions"], mis) if mis else "<p>None recognised.</p>"}
<h2>Flagged for review</h2>
{html_table(["submission", "flags"], flagged) if flagged else "<p>None.</p>"}
<h2>Timed out, crashed or invalid</h2>
{html_table(["submission", "status", "details"], trouble) if trouble else "<p>None.</p>"}
{absent}
</body></html>
"""


def write_report(results: list[Result], plan: GradingPlan, out: Path,
                 students: tuple[list[str], list[list[str]]] | None = None) -> None:
    write_atomically(out, report_html(results, plan, students))
