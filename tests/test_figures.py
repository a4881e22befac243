"""Figures: every reasonable way of marking a point or an x position passes hw0's figure
judge, and a figure that does not show what is asked fails with the right message.

Real matplotlib Figures (Agg), encoded by the runtime as in the sandbox, sent through JSON
and judged with the case's own expectation, exactly as a returned Figure is graded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import hw0_runtime  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from autograder.assignment import load_assignment  # noqa: E402

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships
CASES = [c for c in load_assignment("hw0").cases if c["expect"]["kind"] == "figure"]


@dataclass
class Step:
    """What a correct student computes for one case: both units, both elbows, the data point."""

    w: float
    b: float
    w2: float
    b2: float
    x: float
    y: float
    e_old: float
    e_new: float
    slope: float

    @classmethod
    def of(cls, case: dict) -> Step:
        e = case["expect"]
        return cls(*e["before"], *e["after"], *e["point"], *e["elbows"], e.get("negative_slope", 0.0))

    @property
    def t(self) -> np.ndarray:
        return np.linspace(min(self.e_old, self.e_new, self.x) - 2, max(self.e_old, self.e_new, self.x) + 2, 301)

    def phi(self, w: float, b: float) -> np.ndarray:
        z = w * self.t + b
        return np.where(z > 0, z, self.slope * z)

    def curves(self, ax, *, before: bool = True, after: bool = True) -> None:
        if before:
            ax.plot(self.t, self.phi(self.w, self.b), label="φ before")
        if after:
            ax.plot(self.t, self.phi(self.w2, self.b2), "--", label="φ after")


def _encode(case: dict, draw: Callable[[Step], object]) -> list[dict]:
    """The outputs of a student function that draws with ``draw``, as the trusted side receives them."""
    s = Step.of(case)

    def plot_elbow_step(w, b, x, y, lr):
        return draw(s)

    try:
        outputs = runtime.call_all(plot_elbow_step, case["calls"])
    finally:
        plt.close("all")
    for out in outputs:
        assert runtime.validate_output(out) is out
    return json.loads(json.dumps(outputs))


def _judge(case: dict, draw: Callable[[Step], object]) -> tuple[bool, str]:
    outputs = _encode(case, draw)
    assert outputs[0]["t"] == "figure", outputs[0]
    return runtime.judge_case(case, outputs)


def _fig():
    return plt.subplots()


# --------------------------------------------------------------------------
# Every reasonable way of marking passes
# --------------------------------------------------------------------------

def _axvline(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.axvline(s.e_old, color="C0", label="old elbow")
    ax.axvline(s.e_new, color="C1", label="new elbow")
    ax.scatter([s.x], [s.y], color="k", label="(x, y)")
    ax.legend()
    return fig


def _vlines(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.vlines([s.e_old, s.e_new], -1, 2, colors=["C0", "C1"], label="elbows")
    ax.plot([s.x], [s.y], "kx", label="(x, y)")
    ax.legend()
    return fig


def _vlines_one_each(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.vlines(s.e_old, 0, 1, linestyles="dotted")
    ax.vlines(s.e_new, 0, 1)
    ax.vlines(s.x, 0, s.y, color="k")  # a drop line that ends at the data point marks it
    ax.legend()
    return fig


def _markers_on_one_line(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.plot([s.e_old, s.e_new, s.x], [0.0, 0.0, s.y], "o", label="elbows and (x, y)")
    ax.legend()
    return fig


def _markers_with_a_line(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.plot([s.e_old, s.e_new], [0.0, 0.0], "s-", label="the elbow moves")
    ax.plot(s.x, s.y, marker="*", linestyle="none", label="(x, y)")
    ax.legend()
    return fig


def _scatter(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.scatter([s.e_old, s.e_new], [0.0, 0.0], label="elbows")
    ax.scatter(s.x, s.y, marker="x", label="(x, y)")
    ax.legend()
    return fig


def _stem(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.stem([s.e_old, s.e_new, s.x], [1.0, 1.0, s.y], label="elbows and (x, y)")
    ax.legend()
    return fig


def _stem_without_heads(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.stem([s.e_old, s.e_new], [1.0, 1.0], markerfmt=" ")  # the stems alone mark the x positions
    ax.stem([s.x], [s.y], linefmt="k-", markerfmt="ko")
    ax.text(s.x, s.y, "  (x, y)")
    return fig


def _annotate(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    arrow = {"arrowstyle": "->"}
    ax.annotate("old elbow", xy=(s.e_old, 0.0), xytext=(s.e_old + 1.0, 2.0), arrowprops=arrow)
    ax.annotate("new elbow", xy=(s.e_new, 0.0), xytext=(s.e_new - 1.0, 2.5), arrowprops=arrow)
    ax.annotate("data", xy=(s.x, s.y), xytext=(10, -10), textcoords="offset points", arrowprops=arrow)
    return fig


def _annotate_arrows_only(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    for e in (s.e_old, s.e_new):
        ax.annotate("", xy=(e, 0.0), xytext=(e, -1.0), arrowprops={"arrowstyle": "->"})
    ax.annotate("", xy=(s.x, s.y), xytext=(s.x + 1, s.y), arrowprops={"arrowstyle": "->"})
    ax.legend()
    return fig


def _annotate_x_only(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.annotate("old", xy=(s.e_old, 1.0), xycoords=("data", "axes fraction"))
    ax.annotate("new", xy=(s.e_new, 1.0), xycoords=("data", "axes fraction"))
    ax.plot(s.x, s.y, "ro")
    return fig


def _text(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.text(s.e_old, 0.0, "old elbow")
    ax.text(s.e_new, 0.0, "new elbow")
    ax.text(s.x, s.y, "(x, y)")
    return fig


def _text_above_the_axes(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.text(s.e_old, 1.02, "old", transform=ax.get_xaxis_transform())
    ax.text(s.e_new, 1.02, "new", transform=ax.get_xaxis_transform())
    ax.plot([s.x], [s.y], "ko", label="(x, y)")
    ax.legend()
    return fig


def _twinx(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    twin = ax.twinx()
    twin.axvline(s.e_old, color="C0", label="old elbow")
    twin.vlines(s.e_new, 0, 1, color="C1", label="new elbow")
    twin.scatter([s.x], [s.y], color="k", label="(x, y)")
    twin.legend()
    return fig


def _another_axes(s: Step):
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True)
    s.curves(top)
    bottom.vlines([s.e_old, s.e_new], 0, 1)
    bottom.plot([s.x], [s.y], "o")
    fig.legend(["φ before", "φ after"])
    return fig


def _pyplot_state(s: Step):
    plt.figure()
    plt.plot(s.t, s.phi(s.w, s.b), label="before")
    plt.plot(s.t, s.phi(s.w2, s.b2), label="after")
    plt.axvline(s.e_old, ls=":")
    plt.vlines(s.e_new, 0, 1)
    plt.plot(s.x, s.y, "ro")
    plt.legend()
    return plt.gcf()


def _returns_the_axes(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.vlines([s.e_old, s.e_new], 0, 1)
    ax.scatter(s.x, s.y)
    ax.legend()
    return ax


CORRECT = [_axvline, _vlines, _vlines_one_each, _markers_on_one_line, _markers_with_a_line, _scatter, _stem,
           _stem_without_heads, _annotate, _annotate_arrows_only, _annotate_x_only, _text, _text_above_the_axes,
           _twinx, _another_axes, _pyplot_state, _returns_the_axes]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
@pytest.mark.parametrize("draw", CORRECT, ids=lambda f: f.__name__.strip("_"))
def test_every_reasonable_way_of_marking_passes(case, draw):
    passed, message = _judge(case, draw)
    assert passed, message


def test_the_cases_are_there():
    assert len(CASES) == 2 and {c["hidden"] for c in CASES} == {False, True}


# --------------------------------------------------------------------------
# A figure that does not show what is asked fails, with the right message
# --------------------------------------------------------------------------

OLD = "the old elbow is not marked at its x position"
NEW = "the new elbow is not marked at its x position"
POINT = "the data point (x, y) is not marked."
LABELS = "label the curves and markers with a legend or text."


def _partial(*, old=True, new=True, point=True, before=True, after=True, legend=True):
    def draw(s: Step):
        fig, ax = _fig()
        s.curves(ax, before=before, after=after)
        if old:
            ax.vlines(s.e_old, 0, 1, label="old elbow")
        if new:
            ax.axvline(s.e_new, label="new elbow")
        if point:
            ax.scatter(s.x, s.y, label="(x, y)")
        if legend:
            ax.legend()
        return fig
    return draw


def _hlines_at_the_elbows(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.hlines(0.0, s.e_old, s.e_new, label="from old to new")  # its ends are no x marks
    ax.hlines([0.5, 1.0], s.e_old, s.e_new)
    ax.axhline(0.0)
    ax.scatter(s.x, s.y, label="(x, y)")
    ax.legend()
    return fig


def _segment_between_the_elbows(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.plot([s.e_old, s.e_new], [0.0, 0.5], label="a slanted line, no markers")
    ax.scatter(s.x, s.y, label="(x, y)")
    ax.legend()
    return fig


def _point_without_marker(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.vlines([s.e_old, s.e_new], 0, 1)
    ax.plot([s.x], [s.y], label="(x, y)")  # one point, no marker: nothing is drawn
    ax.legend()
    return fig


def _only_the_x_of_the_point(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.vlines([s.e_old, s.e_new], 0, 1)
    ax.axvline(s.x, color="k", label="x")
    ax.legend()
    return fig


def _invisible_marks(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.vlines([s.e_old, s.e_new], 0, 1).set_visible(False)
    ax.scatter(s.x, s.y)
    ax.legend()
    return fig


def _texts_in_axes_units(s: Step):
    fig, ax = _fig()
    s.curves(ax)
    ax.text(s.e_old, 0.0, "old", transform=ax.transAxes)  # the right numbers, but not in data units
    ax.text(s.e_new, 0.0, "new", transform=ax.transAxes)
    ax.scatter(s.x, s.y)
    return fig


def _invisible_curve(s: Step):
    fig, ax = _fig()
    ax.plot(s.t, s.phi(s.w, s.b), linestyle="none", label="before")  # no line, no marker
    ax.plot(s.t, s.phi(s.w2, s.b2), label="after")
    ax.vlines([s.e_old, s.e_new], 0, 1)
    ax.scatter(s.x, s.y)
    ax.legend()
    return fig


def _blank_texts_only(s: Step):
    fig, ax = _fig()
    ax.plot(s.t, s.phi(s.w, s.b))
    ax.plot(s.t, s.phi(s.w2, s.b2))
    ax.vlines([s.e_old, s.e_new], 0, 1)
    ax.scatter(s.x, s.y)
    ax.text(s.x, s.y, "   ")
    ax.legend()  # no labelled artist: an empty legend
    return fig


WRONG = [
    (_partial(old=False), OLD),
    (_partial(new=False), NEW),
    (_partial(old=False, new=False), OLD),
    (_partial(point=False), POINT),
    (_partial(before=False), "no plotted curve matches φ before the step"),
    (_partial(after=False), "no plotted curve matches φ after the step"),
    (_partial(legend=False), LABELS),
    (_hlines_at_the_elbows, OLD),
    (_segment_between_the_elbows, OLD),
    (_point_without_marker, POINT),
    (_only_the_x_of_the_point, POINT),
    (_invisible_marks, OLD),
    (_texts_in_axes_units, OLD),
    (_invisible_curve, "no plotted curve matches φ before the step"),
    (_blank_texts_only, LABELS),
]


@pytest.mark.filterwarnings("ignore:No artists with labels found")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
@pytest.mark.parametrize("draw, message", WRONG, ids=lambda v: getattr(v, "__name__", None))
def test_a_figure_that_does_not_show_it_fails(case, draw, message):
    passed, got = _judge(case, draw)
    assert not passed and message in got, got


def test_not_a_figure_fails():
    case = CASES[0]
    out = runtime.call_student(lambda *a: np.zeros(3), case["calls"][0])
    assert runtime.judge_case(case, [out]) == (False, f"{case['label']}: expected a matplotlib Figure, "
                                                      "got an array of shape (3,).")


# --------------------------------------------------------------------------
# What the encoder ships, and what the validator takes
# --------------------------------------------------------------------------

def _axes_record(draw) -> dict:
    (out,) = _encode(CASES[0], draw)
    return out["axes"][0]


def test_the_encoder_ships_segments_markers_and_annotated_points():
    def draw(s: Step):
        fig, ax = _fig()
        ax.vlines([1.0, 2.0], 0.0, 3.0)
        ax.hlines(0.5, -1.0, 1.0)
        ax.axvline(4.0)
        ax.plot([0.0, 1.0], [0.0, 1.0], "o")
        ax.annotate("a", xy=(5.0, 6.0), xytext=(7.0, 8.0), arrowprops={})
        ax.annotate("b", xy=(9.0, 0.5), xycoords=("data", "axes fraction"))
        ax.text(0.5, 0.5, "c", transform=ax.transAxes)
        ax.text(1.5, 2.5, "")  # draws nothing
        return fig

    ax = _axes_record(draw)
    assert ax["segments"] == [[[1.0, 0.0], [1.0, 3.0]], [[2.0, 0.0], [2.0, 3.0]], [[-1.0, 0.5], [1.0, 0.5]]]
    assert ax["points"] == []  # a LineCollection's offsets are no points
    axvline, dots = ax["lines"]
    assert axvline["xy"] == [[4.0, "nan"], [4.0, "nan"]] and (axvline["joined"], axvline["marker"]) == (True, False)
    assert (dots["joined"], dots["marker"]) == (False, True)
    assert ax["texts"] == [{"x": 5.0, "y": 6.0, "s": "a"}, {"x": 9.0, "y": "nan", "s": "b"},
                           {"x": "nan", "y": "nan", "s": "c"}]


def test_the_encoder_caps_segments_and_points():
    def draw(s: Step):
        fig, axs = plt.subplots(1, 2)
        for ax in axs:
            for _ in range(20):
                ax.vlines(np.arange(1000.0), 0, 1)
            ax.add_collection(LineCollection([np.column_stack([np.zeros(500), np.arange(500.0)])]))
            ax.scatter(np.arange(10_000.0), np.arange(10_000.0))
            ax.scatter([1.0], [2.0])
        return fig

    (out,) = _encode(CASES[0], draw)
    for ax in out["axes"]:
        assert len(ax["segments"]) == runtime.MAX_SEGMENTS
        assert all(len(seg) <= runtime.MAX_SEGMENT_POINTS for seg in ax["segments"])
        assert len(ax["points"]) == runtime.MAX_POINTS


@pytest.mark.parametrize("edit", [
    lambda ax: ax.pop("segments"),
    lambda ax: ax["segments"].append([]),
    lambda ax: ax["segments"].append([[0.0, 1.0, 2.0]]),
    lambda ax: ax["segments"].append([[0.0, True]]),
    lambda ax: ax["segments"].append([[0.0, 0.0]] * (runtime.MAX_SEGMENT_POINTS + 1)),
    lambda ax: ax["segments"].extend([[[0.0, 0.0]]] * (runtime.MAX_SEGMENTS + 1)),
    lambda ax: ax["segments"].append({"xy": [[0.0, 0.0]]}),
    lambda ax: ax["lines"][0].__setitem__("marker", 1),
    lambda ax: ax["lines"][0].__setitem__("joined", "yes"),
    lambda ax: ax["lines"][0].pop("joined"),
    lambda ax: ax["points"].extend([[0.0, 0.0]] * (runtime.MAX_POINTS + 1)),
    lambda ax: ax["texts"].append({"x": "NaN", "y": 0.0, "s": "t"}),
])
def test_the_validator_takes_only_what_the_encoder_makes(edit):
    case = CASES[0]
    (out,) = _encode(case, _vlines)
    assert runtime.judge_case(case, [out])[0]
    edit(out["axes"][0])
    with pytest.raises(runtime.InvalidOutput):
        runtime.validate_output(out)
    passed, message = runtime.judge_case(case, [out])
    assert not passed and "could not be read" in message


# --------------------------------------------------------------------------
# Hostile artists: lying or raising attributes never crash the encoder
# --------------------------------------------------------------------------

class LyingSegments(LineCollection):
    """Says it draws vertical lines at the elbows; draws something else."""

    lie: list = []

    def get_segments(self):
        return self.lie

    def get_offsets(self):
        return np.array(self.lie).reshape(-1, 2)


class RaisingSegments(LineCollection):
    """Every attribute read raises once armed (after matplotlib has added it)."""

    armed = False

    def __getattribute__(self, name):
        if object.__getattribute__(self, "armed") and name != "armed":
            raise RuntimeError("no")
        return object.__getattribute__(self, name)


class RaisingAnnotation(Annotation):
    """Its point raises once armed; so do its coordinates' and its arrow's."""

    armed = False

    @property
    def xy(self):
        if self.armed:
            raise RuntimeError("no")
        return self._xy

    @xy.setter
    def xy(self, value):
        self._xy = value


class LyingCoords(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class LyingLine(Line2D):
    def get_xdata(self, orig=True):
        return np.full(301, 1e300)

    def get_marker(self):
        return "o"


def test_lying_artists_are_read_through_their_base_types():
    def draw(s: Step):
        fig, ax = _fig()
        s.curves(ax)
        lying = LyingSegments([[(s.x, 0.0), (s.x + 1, 1.0)]])
        lying.lie = [np.array([[e, 0.0], [e, 1.0]]) for e in (s.e_old, s.e_new)]
        ax.add_collection(lying)
        ax.add_line(LyingLine([s.e_old, s.e_new], [0.0, 0.0]))  # no marker, in truth
        ax.annotate("elbow", xy=(s.e_old, 0.0), xycoords=LyingCoords("axes fraction"))
        ax.scatter(s.x, s.y, label="(x, y)")
        ax.legend()
        return fig

    case = CASES[0]
    (out,) = _encode(case, draw)
    ax = out["axes"][0]
    s = Step.of(case)
    assert ax["segments"] == [[[s.x, 0.0], [s.x + 1, 1.0]]]
    assert ax["lines"][-1] == {"xy": [[s.e_old, 0.0], [s.e_new, 0.0]], "label": "_child3",
                               "marker": False, "joined": True}
    assert ax["texts"] == [{"x": "nan", "y": "nan", "s": "elbow"}]
    assert runtime.judge_case(case, [out]) == (False, f"{case['label']}: {OLD} (a marker, a vertical line or "
                                                      "an annotation).")


def test_raising_artists_are_left_out():
    def draw(s: Step):
        fig, ax = _fig()
        raising = RaisingSegments([[(0.0, 0.0), (0.0, 1.0)]])
        ax.add_collection(raising)
        ax.annotate("x", xy=(0.0, 0.0))
        bad = RaisingAnnotation("bad", xy=(0.0, 0.0))
        ax._add_text(bad)
        _vlines_drawn_on(ax, s)
        raising.armed = bad.armed = True
        return fig

    case = CASES[0]
    (out,) = _encode(case, draw)
    ax = out["axes"][0]
    assert [t["s"] for t in ax["texts"]] == ["x"]  # the raising annotation is left out
    assert len(ax["segments"]) == 2  # the raising collection is left out, the vlines kept
    assert runtime.judge_case(case, [out])[0]


def _vlines_drawn_on(ax, s: Step) -> None:
    s.curves(ax)
    ax.vlines([s.e_old, s.e_new], 0, 1)
    ax.scatter(s.x, s.y, label="(x, y)")
    ax.legend()


def test_objects_that_only_look_like_figures_are_objects():
    class Fake:
        __module__ = "matplotlib.figure"

        def get_axes(self):
            return []

    fake = runtime.encode_output(Fake())
    assert fake["t"] == "object" and "not a matplotlib Figure" in fake["error"]
    runtime.validate_output(fake)


def test_a_lying_figure_is_read_through_its_base_type():
    class Lying(Figure):
        __module__ = "matplotlib.figure"  # a subclass from elsewhere is no Figure to the encoder at all
        armed = False

        def get_axes(self):
            return [object()] * 10**6 if self.armed else super().get_axes()

        def __getattribute__(self, name):
            if name == "legends" and object.__getattribute__(self, "armed"):
                raise RuntimeError("no")
            return object.__getattribute__(self, name)

    fig = Lying()
    fig.add_subplot().plot([0.0, 1.0, 2.0], [0.0, 1.0, 4.0], label="curve")
    fig.legend()
    fig.armed = True
    out = runtime.encode_output(fig)
    assert out["t"] == "figure" and len(out["axes"]) == 1 and out["legend"] == []
    assert out["axes"][0]["lines"][0]["xy"] == [[0.0, 0.0], [1.0, 1.0], [2.0, 4.0]]
    runtime.validate_output(out)
    Lying.__module__ = __name__
    assert runtime.encode_output(fig) == {"t": "object", "type": "Lying"}
