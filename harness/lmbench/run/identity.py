"""Code-aware run identity: a hash of the source files of the core and of each plugin a run uses.

A run's id covers its resolved spec, the versions of its plugins, its dataset's fingerprint and
the hash of the code that computes it (:func:`code_hashes`), so editing a model file -- even a
comment -- gives a new run instead of silently returning the old result. The id without the
code part (the *spec id*) is stored with each run, so ``--reuse-stale`` can still find a done run
made by older code.

A package's hash covers the contents of every source and data file under its import directories
(the package's ``__path__``: for an editable install, the source checkout), read once per process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CORE", "SOURCE_SUFFIXES", "package_files", "package_hash", "code_hashes", "combined_hash",
           "clear_cache", "stale_packages", "stale_code_note"]

#: The core's name in the per-package hashes.
CORE = "lmbench"

#: Files that are part of a package's behaviour: its modules and the data files shipped with it.
SOURCE_SUFFIXES = frozenset({".py", ".pyi", ".toml", ".json", ".yaml", ".yml", ".cfg", ".txt", ".jinja", ".j2",
                             ".html", ".css", ".js"})

_SKIP_DIRS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})

_cache: dict[str, str] = {}
_lock = threading.Lock()


def package_files(package: str) -> dict[str, Path]:
    """The source and data files of an importable top-level package (or single-file module), by their
    path relative to the package (so the install location does not matter), sorted.

    Empty when the package cannot be found (its hash is then ``"?"``).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return {}
    if spec is None:
        return {}
    roots = list(spec.submodule_search_locations or [])
    if not roots:  # a plain module: just its file
        origin = Path(spec.origin) if spec.origin else None
        return {origin.name: origin} if origin is not None and origin.is_file() else {}
    files: dict[str, Path] = {}
    for root in map(Path, roots):
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if path.suffix in SOURCE_SUFFIXES and not _SKIP_DIRS.intersection(rel.parts) and path.is_file():
                files.setdefault(rel.as_posix(), path)
    return dict(sorted(files.items()))


def _hash_files(files: Mapping[str, Path]) -> str:
    """Names and contents: a renamed or moved file changes the hash too."""
    digest = hashlib.sha256()
    found = False
    for rel, path in files.items():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found = True
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16] if found else "?"


def package_hash(package: str) -> str:
    """The hash of one top-level package's files (cached for the life of the process)."""
    with _lock:
        if package not in _cache:
            _cache[package] = _hash_files(package_files(package))
        return _cache[package]


def clear_cache() -> None:
    """Forget the cached hashes (after editing files in a long-lived process, e.g. in tests)."""
    with _lock:
        _cache.clear()


def code_hashes(plugin_modules: Mapping[str, str]) -> dict[str, str]:
    """Per-package code hashes for the core and each plugin: ``{"lmbench": h, "lm": h, ...}``.

    ``plugin_modules`` maps a plugin's name to the module it was registered from
    (``{"lm": "lmbench_lm.plugin"}``); its top-level package is hashed.
    """
    out = {CORE: package_hash(CORE)}
    for name, module in sorted(plugin_modules.items()):
        top = module.split(".", 1)[0] if module else ""
        out[name] = package_hash(top) if top else "?"
    return out


def combined_hash(hashes: Mapping[str, str]) -> str:
    """One short hash of per-package hashes (what goes into a run's id)."""
    text = "\n".join(f"{name}={value}" for name, value in sorted(hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_packages(stored: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The packages whose stored code hash differs from the installed code's (sorted)."""
    return sorted(name for name, value in stored.items() if current.get(name) != value)


def stale_code_note(env: Mapping[str, object], host: object = None) -> str | None:
    """A one-line note when a stored run's code differs from the installed code (None when the same,
    or when the run predates code hashes)."""
    stored = env.get("code")
    if not isinstance(stored, Mapping) or not stored:
        return None if stored is not None else "made before runs recorded their code: cannot tell if the code changed"
    if host is None:
        from ..plugin.host import default_host

        host = default_host()
    infos = getattr(host, "plugins", {})
    current = code_hashes({n: infos[n].module if n in infos else "" for n in stored if n != CORE})
    changed = stale_packages(stored, current)
    if not changed:
        return None
    return (f"code changed since this run ({', '.join(changed)}): running its spec again gives a new run; "
            "--reuse-stale reuses this one")
