"""An assignment: a self-contained folder under ``assignments/``, found by its name.

::

    assignments/<name>/
      <name>.yaml          seed, points, written points, declared knobs, numeric sub-questions
      master/*.md          the master, one MyST file per problem, joined in name order
      checks/__init__.py   CHECKS (a list of autograder.checks.Check), and optionally
                           conventions(knobs) and numbers(cases); one module per problem beside it
      judges.py            optional: the assignment's own judges and test functions
      catalogue.yaml       known wrong answers; correct_styles.yaml: correct answers in other styles
      requirements.txt     optional: extra packages of the student environment
    reference/<name>/      its reference solutions (pure math)

A *variant* is a folder with only a YAML that names a ``base`` whose folder it uses, and
may set its own ``seed``, ``points``, ``include`` (sub-parts) and ``set`` (knob values)::

    base: week3
    seed: 2027
    set: {convention: other}

Knobs are declared by the base, each with a type, its allowed values, a default and what
it changes; a value outside the declaration is a :class:`UserError`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import types
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from autograder.checks import Check, cases_for, question_ids
from autograder.errors import UserError
from autograder.plan import GradingPlan

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_KEYS = {"seed", "points", "written", "base", "knobs", "set", "include", "numeric"}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
KNOB_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class Knob:
    """One declared knob: a teaching convention a variant may change."""

    name: str
    type: str
    default: Any
    values: tuple = ()  # the allowed values; () = any value of the type within [low, high]
    low: float | None = None
    high: float | None = None
    changes: str = ""

    def parse(self, raw: Any, where: str) -> Any:
        """``raw`` (from YAML or ``--set KEY=VALUE``) as a value of this knob, or a UserError."""
        value = raw
        if isinstance(raw, str) and self.type != "str":
            try:
                value = {"true": True, "false": False}[raw.lower()] if self.type == "bool" else yaml.safe_load(raw)
            except (KeyError, yaml.YAMLError):
                value = raw
        kind = KNOB_TYPES[self.type]
        if self.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise UserError(f"{where}: knob {self.name!r} takes a {self.type}, not {raw!r}{self._allowed()}")
        if self.values and value not in self.values:
            raise UserError(f"{where}: knob {self.name!r} cannot be {raw!r}{self._allowed()}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise UserError(f"{where}: knob {self.name!r} cannot be {raw!r}{self._allowed()}")
        return value

    def _allowed(self) -> str:
        if self.values:
            return f" (allowed: {', '.join(map(str, self.values))})"
        if self.low is not None or self.high is not None:
            low, high = ("-inf" if self.low is None else self.low), ("inf" if self.high is None else self.high)
            return f" (allowed: {low} to {high})"
        return ""


class Knobs(types.SimpleNamespace):
    """The default conventions object: one attribute per knob (``conv.<knob>``)."""


@dataclass
class Assignment:
    name: str
    folder: Path  # the folder of the base assignment (its own for a base)
    seed: int
    points: dict[str, float]
    written: dict[str, float] = field(default_factory=dict)
    base: str = ""  # the assignment whose folder this one uses ("" = itself)
    knobs: dict[str, Knob] = field(default_factory=dict)
    knob_values: dict[str, Any] = field(default_factory=dict)  # every declared knob's value
    numeric: list[str] = field(default_factory=list)  # declared numeric sub-questions (optional checks)
    include: list[str] | None = None  # question ids; None = every non-optional one
    root: Path = PROJECT_ROOT
    student_id: str | None = None  # set for a per-student variant
    hidden_seed: int | None = None  # a student's own seed for the hidden cases (public ones stay shared)

    @property
    def base_name(self) -> str:
        return self.base or self.name

    @property
    def master_files(self) -> list[Path]:
        """The master's files, one per problem, in the order they are joined."""
        return sorted((self.folder / "master").glob("*.md"))

    @cached_property
    def module(self) -> types.ModuleType:
        """The assignment's ``checks`` package."""
        return load_checks(self.folder, self.base_name)

    @property
    def is_default(self) -> bool:
        """Whether every knob has its declared default."""
        return all(self.knob_values[k] == knob.default for k, knob in self.knobs.items())

    @cached_property
    def conventions(self) -> Any:
        """What the checks and the master see as ``conv``: the assignment's own object, or :class:`Knobs`."""
        make = getattr(self.module, "conventions", None)
        return make(dict(self.knob_values)) if make else Knobs(**self.knob_values)

    @cached_property
    def support(self) -> str:
        """The support file's text: the runtime plus the assignment's ``judges.py``."""
        from autograder.support import support_source

        return support_source(self.folder / "judges.py")

    @cached_property
    def runtime(self) -> types.ModuleType:
        from autograder.support import load_support

        return load_support(self.support)

    @property
    def checks(self) -> list[Check]:
        return [c for c in self.module.CHECKS if c.applies(self.conventions)
                and (c.qid in self.include if self.include is not None else not c.optional)]

    @cached_property
    def cases(self) -> list[dict]:
        """All cases, each with the points it is worth."""
        cases = cases_for(self.checks, self.seed, self.conventions, self.hidden_seed, rt=self.runtime)
        weight = {q: sum(c["weight"] for c in cases if c["qid"] == q) for q in self.question_ids}
        for case in cases:  # a question's points are split over its cases by weight (evenly, as a rule)
            case["points"] = self.points[case["qid"]] * case.pop("weight") / weight[case["qid"]]
        return cases

    @property
    def question_ids(self) -> list[str]:
        return question_ids(self.checks)

    @property
    def max_score(self) -> float:
        return float(sum(self.points[q] for q in self.question_ids))

    @cached_property
    def plan(self) -> GradingPlan:
        """What the grader needs, as plain data (expectations already computed)."""
        return GradingPlan(self.name, self.question_ids, {q: self.points[q] for q in self.question_ids}, self.cases,
                           self.support)

    @property
    def numbers(self) -> dict | None:
        """The numbers the master shows for this variant and student (its ``numbers(cases)`` hook)."""
        hook = getattr(self.module, "numbers", None)
        return hook(self.cases) if hook else None

    @property
    def catalogue_path(self) -> Path:
        """The wrong-answer catalogue (a variant uses its base's): data beside the master."""
        return self.folder / "catalogue.yaml"

    @property
    def correct_styles_path(self) -> Path:
        return self.folder / "correct_styles.yaml"

    def catalogue(self) -> list[dict]:
        """Every wrong answer (``id``, ``qid``, ``code``, …); a missing or empty catalogue is an error,
        never a pass with nothing checked."""
        return _entries(self.catalogue_path, "wrong-answer catalogue")

    def correct_styles(self) -> list[dict]:
        return _entries(self.correct_styles_path, "correct-style corpus")

    def for_student(self, hidden_seed: int, student_id: str) -> Assignment:
        """The same assignment with the student's own hidden cases and numbers."""
        return replace(self, hidden_seed=hidden_seed, student_id=student_id)


def load_checks(folder: Path, name: str) -> types.ModuleType:
    """Import ``folder/checks`` as a package of its own, named for the folder (two copies of one
    assignment, say a test's, never share modules)."""
    init = folder / "checks" / "__init__.py"
    if not init.exists():
        raise UserError(f"{folder}: the assignment has no checks ({init} is missing)")
    tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    package = f"dlmath_assignment_{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{tag}"
    module_name = f"{package}.checks"
    if module_name in sys.modules:
        return sys.modules[module_name]
    sys.modules.setdefault(package, types.ModuleType(package))
    spec = importlib.util.spec_from_file_location(module_name, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    if not isinstance(getattr(module, "CHECKS", None), list) or not all(isinstance(c, Check) for c in module.CHECKS):
        raise UserError(f"{init}: CHECKS must be a list of autograder.checks.Check")
    return module


def _entries(path: Path, what: str) -> list[dict]:
    try:
        entries = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"{path}: the assignment's {what} is missing ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: the assignment's {what} is empty; it needs at least one entry")
    return entries


def _read(root: Path, name: str) -> dict:
    path = root / "assignments" / name / f"{name}.yaml"
    if not NAME.fullmatch(name) or not path.exists():
        known = ", ".join(list_assignments(root=root)) or "none"
        raise UserError(f"unknown assignment {name!r} (no {path}); known: {known}")
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(settings, dict):
        raise UserError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(map(str, settings)) - SETTINGS_KEYS)
    if unknown:
        raise UserError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(SETTINGS_KEYS))})")
    return settings


def declared_knobs(declaration: Any, where: str) -> dict[str, Knob]:
    """The ``knobs:`` mapping of a base assignment, checked."""
    if declaration in (None, {}):
        return {}
    if not isinstance(declaration, dict):
        raise UserError(f"{where}: 'knobs' must map each knob's name to its declaration")
    knobs = {}
    for name, spec in declaration.items():
        if not isinstance(spec, dict) or spec.get("type") not in KNOB_TYPES or "default" not in spec:
            raise UserError(f"{where}: knob {name!r} needs a type ({', '.join(KNOB_TYPES)}) and a default")
        extra = set(spec) - {"type", "values", "default", "low", "high", "changes"}
        if extra:
            raise UserError(f"{where}: knob {name!r} has an unknown field {sorted(extra)[0]!r}")
        knob = Knob(str(name), spec["type"], spec["default"], tuple(spec.get("values") or ()), spec.get("low"),
                    spec.get("high"), str(spec.get("changes", "")))
        knobs[knob.name] = replace(knob, default=knob.parse(knob.default, f"{where}: the default of"))
    return knobs


def knob_values(knobs: dict[str, Knob], chosen: Any, where: str) -> dict[str, Any]:
    """Every declared knob's value: the defaults, overridden by ``chosen`` (checked)."""
    chosen = chosen or {}
    if not isinstance(chosen, dict):
        raise UserError(f"{where}: 'set' must map knob names to values")
    values = {k: knob.default for k, knob in knobs.items()}
    for key, raw in chosen.items():
        if key not in knobs:
            known = ", ".join(knobs) or "none: this assignment declares no knobs"
            raise UserError(f"{where}: unknown knob {key!r} (known: {known})")
        values[key] = knobs[key].parse(raw, where)
    return values


def load_assignment(name: str, *, root: Path | None = None) -> Assignment:
    root = root or PROJECT_ROOT
    settings = _read(root, name)
    base = str(settings.get("base", ""))
    where = root / "assignments" / name / f"{name}.yaml"
    inherited = _read(root, base) if base else {}
    if inherited.get("base"):
        raise UserError(f"{where}: the base {base!r} is itself a variant; name its base instead")
    for key in ("knobs", "numeric"):
        if base and key in settings:
            raise UserError(f"{where}: {key!r} is declared by the base assignment; a variant chooses with 'set'")
    merged = {**inherited, **settings}
    for key in ("seed", "points"):
        if key not in merged:
            raise UserError(f"{where}: the setting {key!r} is missing")
    base_where = root / "assignments" / (base or name) / f"{base or name}.yaml"
    knobs = declared_knobs(inherited.get("knobs") if base else settings.get("knobs"), str(base_where))
    try:
        assignment = Assignment(
            name=name, folder=root / "assignments" / (base or name), seed=int(merged["seed"]),
            points={str(k): float(v) for k, v in merged["points"].items()},
            written={str(k): float(v) for k, v in (merged.get("written") or {}).items()},
            base=base, knobs=knobs, knob_values=knob_values(knobs, settings.get("set"), str(where)),
            numeric=[str(q) for q in merged.get("numeric") or []], include=merged.get("include"), root=root)
    except (TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{where}: {exc}") from exc
    if not assignment.master_files:
        raise UserError(f"{assignment.folder}: the assignment has no master (no master/*.md)")
    missing = set(assignment.question_ids) - set(assignment.points)
    if missing:
        raise UserError(f"{where}: no points for {sorted(missing)}")
    return assignment


def list_assignments(*, root: Path | None = None) -> list[str]:
    base = (root or PROJECT_ROOT) / "assignments"
    return sorted(p.name for p in base.iterdir() if (p / f"{p.name}.yaml").exists())
