"""``lmbench fetch``: download the files plugins declare (``lmbench_register_assets``) into the cache."""

from __future__ import annotations

import json

import click

from ..errors import LmbenchError
from .common import console, json_option


@click.command("fetch")
@click.argument("names", nargs=-1, metavar="[ASSET]...")
@click.option("--list", "list_only", is_flag=True, help="List the declared assets and where each is; fetch nothing.")
@click.option("--force", is_flag=True, help="Download again even if the file is present.")
@json_option
def fetch_cmd(names: tuple[str, ...], list_only: bool, force: bool, as_json: bool) -> None:
    """Download declared assets (model weights) into the lmbench cache: all, or the named ones.

    \b
    lmbench fetch                   every declared asset that is not yet present
    lmbench fetch peft.smollm2      the SmolLM2-135M GGUF of the PEFT lab (93 MB)
    lmbench fetch --list            what can be fetched, and where each file is now
    """
    from ..plugin.assets import collect_assets, fetch, locate

    registry = collect_assets()
    assets = [registry.get(n) for n in names] if names else list(registry)
    out = console()
    if list_only:
        rows = [{"name": a.name, "requirement": a.requirement, "path": str(locate(a) or ""), "summary": a.summary}
                for a in assets]
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            where = row["path"] or "not fetched"
            out.print(f"{row['name']}  {row['requirement']}  {where}")
        return
    done, failed = [], []
    for asset in assets:
        present = None if force else locate(asset)
        if present is None:
            out.print(f"fetching {asset.name} ({asset.requirement})")
            try:
                present = fetch(asset, force=force)
            except LmbenchError as exc:
                failed.append(str(exc))
                out.print(f"error: {exc}")
                continue
        done.append({"name": asset.name, "path": str(present)})
        out.print(f"{asset.name}: {present}")
    if as_json:
        click.echo(json.dumps(done, indent=2))
    if failed:
        raise SystemExit(1)


__all__ = ["fetch_cmd"]
