"""Building the launcher a sweep names (``--launcher NAME`` and its ``--jobs``/``--slurm-*`` flags)."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def parse_key_values(items: tuple[str, ...] | list[str], flag: str) -> dict[str, str]:
    """``("qos=high", "account=lab")`` -> ``{"qos": "high", "account": "lab"}``; a bad item fails in one line."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"bad {flag} '{item}'; expected KEY=VALUE, e.g. {flag} qos=high")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def build_launcher(registries: Any, name: str, *, jobs: int = 1, slurm: dict[str, Any] | None = None,
                   slurm_set: dict[str, str] | None = None) -> tuple[str, Any]:
    """The registered launcher ``name`` built from the sweep's flags; returns (qualified name, launcher).

    ``jobs`` configures ``core.local``; ``slurm`` (flag name -> value, unset flags left out) and
    ``slurm_set`` (any other sbatch parameter) configure ``core.slurm``. Options are validated into
    the launcher's ``Config`` by :func:`lmbench.spec.validate.make_config` before anything is submitted;
    options given to a launcher that does not take them are refused, not ignored.
    """
    from ..spec.validate import make_config

    entry = registries.launchers.get(name)
    cls = entry.load()
    slurm = {k: v for k, v in (slurm or {}).items() if v is not None}
    slurm_set = slurm_set or {}
    params: dict[str, Any]
    if entry.name == "core.slurm":
        if jobs != 1:
            raise ConfigError("--jobs is for the local launcher; with --launcher slurm use --slurm-array-parallelism N")
        params = {**slurm, **({"set": slurm_set} if slurm_set else {})}
    else:
        if slurm or slurm_set:
            flags = ", ".join(f"--slurm-{k.replace('_', '-')}" for k in [*slurm, *(["set"] if slurm_set else [])])
            raise ConfigError(f"{flags} only apply to --launcher slurm (this sweep uses {entry.name})")
        params = {"jobs": jobs} if entry.name == "core.local" else {}
        if entry.name != "core.local" and jobs != 1:
            raise ConfigError(f"--jobs is for the local launcher; launcher {entry.name} takes none")
    config = make_config(getattr(cls, "Config", None), params, f"launcher {entry.name}")
    return entry.name, (cls(config) if config is not None else cls())
