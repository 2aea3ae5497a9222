"""Which definition is current, and every version a cycle may still be on.

A deployment chooses its definition with the setting WORKFLOW_DEFINITION (a path; the
default is `definitions/pdca.yaml`). Versions that running cycles still use are kept beside
it as `archive/<name>-<version>.yaml`. A cycle names its version in
`Cycle.definition_version` and is always read and moved with that version.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from .definition import Definition, DefinitionError

__all__ = ["DefinitionError", "configure", "definition_of", "get_definition"]
from .loader import load_definition

DEFINITIONS = Path(__file__).parent / "definitions"
DEFAULT = DEFINITIONS / "pdca.yaml"

_current: Path = DEFAULT


class _Versioned(Protocol):
    definition_version: str


def configure(path: str | Path | None) -> Definition:
    """Make `path` the current definition (None: the default); it and its archive are
    checked now, so a bad file stops start-up with '<file>: <place>: <reason>'."""
    global _current
    _stamps.clear()
    chosen = Path(path) if path else DEFAULT
    if not chosen.is_file():
        raise DefinitionError(str(chosen), "file", "not found (setting WORKFLOW_DEFINITION)")
    _current = chosen.resolve()
    all_definitions()
    return current()


def current_path() -> Path:
    return _current


def archive_dir() -> Path:
    return _current.parent / "archive"


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: int) -> Definition:
    return load_definition(path)


# A definition file edited in place is read again: its modification time is looked at, at
# most once a second per file (a page asks for definitions hundreds of times).
RECHECK_SECONDS = 1.0
_stamps: dict[str, tuple[float, int]] = {}


def _mtime(path: Path) -> int | None:
    """The modification time of a file or folder (None: missing), at most a second old for
    one that exists."""
    key = str(path)
    now = time.monotonic()
    seen = _stamps.get(key)
    if seen is None or now - seen[0] >= RECHECK_SECONDS:
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            # A missing file is not remembered: it may be being copied in, and the paths
            # asked for (a version named in a request) must not pile up.
            _stamps.pop(key, None)
            return None
        seen = _stamps[key] = (now, stamp)
    return seen[1]


def _load(path: Path) -> Definition:
    stamp = _mtime(path)
    if stamp is None:
        raise DefinitionError(str(path), "file", "not found")
    return _load_cached(str(path), stamp)


def current() -> Definition:
    """The definition new cycles are opened with."""
    return _load(_current)


def get_definition(version: str | None = None) -> Definition:
    """The definition of `version` (the current one when None)."""
    now = current()
    if version is None or version == now.version:
        return now
    archived = archive_dir() / f"{now.name}-{version}.yaml"
    if _mtime(archived) is None:
        raise DefinitionError(str(archived), "version", f"no definition {now.name} {version!r}")
    definition = _load(archived)
    if definition.version != version:
        raise DefinitionError(
            str(archived), "version", f"says {definition.version!r}, expected {version!r}"
        )
    return definition


def definition_of(cycle: _Versioned) -> Definition:
    """The definition a cycle was opened with (and is moved by)."""
    return get_definition(cycle.definition_version)


def all_definitions() -> list[Definition]:
    """The current definition and every archived one (each checked).

    Asked for every row of a long list, it answers from memory while neither the current
    file nor the archive folder has changed (archived versions are never edited).
    """
    now = current()
    folder = archive_dir()
    stamp = _mtime(folder)
    key = (id(now), str(folder), stamp)
    if _known[0] != key:
        found = [now]
        for path in sorted(folder.glob(f"{now.name}-*.yaml")):
            found.append(_load(path))
        _known[:] = [key, found, {d.version: d for d in found}]
    return _known[1]


_known: list = [None, [], {}]


def versions_in(definitions: list[Definition] | None = None) -> dict[str, Definition]:
    """Every known definition by version."""
    if definitions is not None:
        return {d.version: d for d in definitions}
    all_definitions()
    return _known[2]
