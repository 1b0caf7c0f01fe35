"""docs/cluster.md is a tested first day: its commands parse, its slurm.conf is the one CI runs, and
its first-day blocks run as written against the real SLURM and PostgreSQL that ``.ci/services`` start
(skipped, with the reason, where either is absent)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from lmbench.cli import cli

from .test_slurm import _slurm_up

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "cluster.md").read_text()


def _blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block as (language, content)."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def _commands(block: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, heredoc bodies skipped."""
    out, heredoc = [], None
    for line in block.replace("\\\n", " ").splitlines():
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        match = re.search(r"<<'?(\w+)'?", line)
        heredoc = match.group(1) if match else None
        if line.strip():
            out.append(line.strip())
    return out


def _first_day() -> str:
    return DOC[DOC.index("## A first day on a cluster"):DOC.index("\n## SLURM")]


def _parse(args: list[str]) -> None:
    """Parse ``lmbench ARGS`` down its command groups (options and arguments checked, nothing run)."""
    command, name, ctx, rest = cli, "lmbench", None, list(args)
    while True:
        ctx = command.make_context(name, rest, parent=ctx)
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not isinstance(command, type(cli)) or not rest:  # a command, or a group with nothing after it
            return
        name, command, rest = command.resolve_command(ctx, rest)


def test_a_misspelled_flag_does_not_parse():
    import click

    with pytest.raises(click.UsageError):
        _parse(["sweep", "--launcher", "slurm", "--slurm-tasks", "2"])
    with pytest.raises(click.UsageError):
        _parse(["store", "merge", "a", "b", "--jsn"])


def test_every_lmbench_command_in_the_doc_parses():
    seen = 0
    for _, block in _blocks(DOC):
        for command in _commands(block):
            if not command.startswith("lmbench "):
                continue
            args = shlex.split(os.path.expandvars(command), comments=True)[1:]
            _parse(args)
            seen += 1
    assert seen >= 10


def test_the_docs_slurm_conf_is_the_one_ci_starts():
    conf = next(body for lang, body in _blocks(_first_day()) if lang == "ini")
    script = (ROOT / ".ci" / "services" / "slurm.sh").read_text()
    for line in conf.splitlines():
        key = line.split("=", 1)[0]
        assert re.search(rf"^{key}=", script, flags=re.M), f"{key} is in docs/cluster.md but not in .ci/services/slurm.sh"


@pytest.mark.skipif(not _slurm_up(), reason="no SLURM controller answering here (sinfo); .ci/services/slurm.sh starts one")
def test_the_first_day_runs_as_written(tmp_path):
    from lmbench.store.pgtest import server_url

    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    server = sa.engine.make_url(url)
    suffix = uuid.uuid4().hex[:8]
    role, database = f"lab_{suffix}", f"lmbench_doc_{suffix}"
    bash = [b for lang, b in _blocks(_first_day()) if lang == "bash"]
    check, setup, sweep, report = bash
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PGHOST=server.host or "127.0.0.1",
               PGPORT=str(server.port or 5432), PGUSER=server.username or "postgres", HOME=str(tmp_path))
    env.pop("LMBENCH_STORE", None)
    env.pop("LMBENCH_ARTIFACTS", None)

    def run(script: str, timeout: float = 120) -> str:
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=timeout)
        assert out.returncode == 0, f"{script}\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}"
        return out.stdout

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        assert os.uname().nodename.split(".")[0] in run(check)
        run(re.sub(r"\blmbench\b", database, re.sub(r"\blab\b", role, setup)))
        store_url = f"postgresql+psycopg://{role}@{env['PGHOST']}:{env['PGPORT']}/{database}"
        run(sweep.replace("postgresql+psycopg://lab@localhost/lmbench", store_url))
        status_env = dict(LMBENCH_STORE=store_url, LMBENCH_ARTIFACTS=str(tmp_path / "lmbench-runs"))
        env.update(status_env)

        def states() -> list[str]:
            return [p["state"] for p in json.loads(run("lmbench status first-sweep --json"))["points"]]

        deadline = time.monotonic() + 240
        while states() != ["done"] * 4 and time.monotonic() < deadline:
            time.sleep(2)
        assert states() == ["done"] * 4
        run(report)
        assert list((tmp_path / "first-report").glob("*.md"))
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            c.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
