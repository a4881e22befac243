"""The reference as a student namespace: every hw0 function name → a correct implementation.

``reference/`` holds pure math; the two functions that are not math (the case
answers and the plot) are written here as a student would.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reference import calculus, least_squares, relu_elbow, ridge  # noqa: E402


def case_answers() -> dict:
    return dict(relu_elbow.CASE_ANSWERS)


def plot_elbow_step(w, b, x, y, lr):
    w_new, b_new = relu_elbow.sgd_step(w, b, x, y, lr)
    e_old, e_new = relu_elbow.elbow(w, b), relu_elbow.elbow(w_new, b_new)
    t = np.linspace(min(e_old, e_new, x) - 2, max(e_old, e_new, x) + 2, 200)
    fig, ax = plt.subplots()
    ax.plot(t, relu_elbow.relu(w * t + b), label="before")
    ax.plot(t, relu_elbow.relu(w_new * t + b_new), label="after")
    ax.plot([e_old, e_new], [0, 0], "o", label="elbows")
    ax.plot([x], [y], "kx", label="(x, y)")
    ax.legend()
    plt.close(fig)
    return fig


def namespace() -> dict:
    """A fresh dict of name → function, like a student's notebook globals."""
    ns: dict = {"np": np, "plt": plt}
    for module in (calculus, least_squares, ridge, relu_elbow):
        ns.update({k: v for k, v in vars(module).items() if callable(v) and not k.startswith("_")})
    ns.update(case_answers=case_answers, plot_elbow_step=plot_elbow_step)
    return ns
