"""The support file: the generic runtime plus one assignment's own judges and test functions.

An assignment may keep a ``judges.py`` beside its master.  It registers judges
(``@judge("kind")``) and test functions (``@test_function("kind")``) with names it
imports from ``autograder.runtime``.  The build joins the two texts into one module
with no import of ``autograder``, because that one file runs everywhere a check runs:

* next to the student notebook as ``dlmath_check.py`` (``grader.check``);
* inside the sandbox, where it encodes the student's return values;
* in the trusted grader, which judges with the module the plan carries, so that the
  TA's grader, Gradescope and ``grader.check`` judge with the very same code.
"""

from __future__ import annotations

import ast
import hashlib
import sys
import types
from pathlib import Path

from autograder.errors import UserError

RUNTIME = Path(__file__).with_name("runtime.py")
_RUNTIME_MODULE = "autograder.runtime"
_ALLOWED_IMPORTS = {"numpy", "math", "itertools", "functools", "collections", "re", "json", "dataclasses",
                    "typing", "__future__", _RUNTIME_MODULE}


def support_source(judges: Path | None) -> str:
    """The runtime's text, followed by ``judges`` (if any) without its imports of the runtime."""
    text = RUNTIME.read_text(encoding="utf-8")
    if judges is None or not judges.exists():
        return text
    own = judges.read_text(encoding="utf-8")
    try:
        tree = ast.parse(own, filename=str(judges))
    except SyntaxError as exc:
        raise UserError(f"{judges}:{exc.lineno}: not valid Python ({exc.msg})") from None
    drop: set[int] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for module in modules:
                if module.split(".")[0] not in {m.split(".")[0] for m in _ALLOWED_IMPORTS} or (
                        module.startswith("autograder") and module != _RUNTIME_MODULE):
                    raise UserError(f"{judges}:{node.lineno}: a judges file runs in the student's kernel too; it "
                                    f"may import only {', '.join(sorted(_ALLOWED_IMPORTS))}, not {module!r}")
            if modules in ([_RUNTIME_MODULE], ["__future__"]):  # these names are already in the joined module
                drop.update(range(node.lineno, node.end_lineno + 1))
    kept = [line for i, line in enumerate(own.splitlines(), start=1) if i not in drop]
    return f"{text}\n\n# {'-' * 74}\n# The assignment's own judges ({judges.name})\n# {'-' * 74}\n" + "\n".join(kept) + "\n"


_LOADED: dict[str, types.ModuleType] = {}


def load_support(source: str) -> types.ModuleType:
    """The support file as a module of this process (one per distinct text).

    It is trusted code: the framework's runtime and the instructor's judges.
    """
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    if key not in _LOADED:
        module = types.ModuleType(f"dlmath_support_{key}")
        module.__file__ = f"<support {key}>"
        sys.modules[module.__name__] = module  # dataclasses and pickling look modules up by name
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        _LOADED[key] = module
    return _LOADED[key]
