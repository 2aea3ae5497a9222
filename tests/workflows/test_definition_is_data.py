"""What the workflow means lives in its definition: the code names no state or trigger, the
engine loads without the web app, and the packages depend on each other one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml

from workflows.definition import FORMS, GRANTED, ITEM_STATUSES, KINDS, LEVELS, SCOPES
from workflows.registry import DEFINITIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "workflows", "notifications")
# Words of the code's own vocabulary that a definition may also use as names: a transition
# kind (reopen, suspend ...), an item status (suspended, abolished), a form, a level.
VOCABULARY = set(KINDS) | set(ITEM_STATUSES) | set(FORMS) | set(LEVELS) | set(GRANTED)
VOCABULARY |= set(SCOPES)


def shipped_names() -> set[str]:
    """Every state and trigger name of the shipped definitions."""
    names: set[str] = set()
    for path in [DEFINITIONS / "pdca.yaml", *sorted((DEFINITIONS / "examples").glob("*.yaml"))]:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        names |= set(raw["states"])
        names |= {t["trigger"] for t in raw["transitions"]}
    return names - VOCABULARY


def python_files():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_state_or_trigger_name_is_written_in_python():
    names = shipped_names()
    assert {"plan_draft", "approve_check", "check_confirming", "hold_hearing"} <= names
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "\n".join(found)


def test_no_state_or_trigger_name_is_written_in_the_templates():
    names = shipped_names()
    found = []
    for path in sorted((ROOT / "app" / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(ROOT)}: {n}" for n in names if f"'{n}'" in text]
        found += [f"{path.relative_to(ROOT)}: {n}" for n in names if f'"{n}"' in text]
    assert not found, found


def _loaded_after(statement: str) -> set[str]:
    """Top-level modules imported by `statement` in a fresh interpreter."""
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return set(out)


def test_the_engine_and_the_jobs_load_without_flask_or_the_web_app():
    loaded = _loaded_after("import workflows.operations, workflows.rules, notifications.jobs")
    assert not {m for m in loaded if m == "flask" or m.startswith("flask_")}
    web = {m for m in loaded if m.startswith("app.") and not m.startswith("app.models")}
    assert web <= {"app.calendar", "app.outbox", "app.links"}, web


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module)
            elif node.level == 1:
                found.add(f"{package}.{node.module}" if node.module else package)
    return found


BLUEPRINTS = {p.parent.name for p in (ROOT / "app").glob("*/__init__.py")} - {"models"}


def _blueprints(modules: set[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if m.startswith("app.") and "." in m} & BLUEPRINTS


def test_the_packages_depend_one_way():
    """The engine imports neither the jobs nor a blueprint; the jobs import no blueprint."""
    for path in (ROOT / "workflows").rglob("*.py"):
        used = _imports(path, "workflows")
        assert not {m for m in used if m.startswith("notifications")}, path
        assert not _blueprints(used), path
    for path in (ROOT / "notifications").rglob("*.py"):
        assert not _blueprints(_imports(path, "notifications")), path


def test_no_module_of_the_jobs_imports_itself_back():
    graph = {
        f"notifications.{p.stem}": {
            m for m in _imports(p, "notifications") if m.startswith("notifications.")
        }
        for p in (ROOT / "notifications").glob("*.py")
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles, cycles
