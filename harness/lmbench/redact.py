"""No secret written to disk: database passwords are masked in everything lmbench records or prints.

A store URL may carry a password (``postgresql+psycopg://user:PW@host/db``). lmbench never stores
it: every recorded command (``runs.command``, ``groups.command``, a sweep point's
``point-command.txt``) and every URL it prints passes through :func:`redact`, and a sweep hands
the password to its workers in the ``PGPASSWORD`` environment variable (:func:`password_env`),
never on a command line. Prefer keeping the password out of the URL altogether: libpq reads
``PGPASSWORD``, ``~/.pgpass`` (mode 600) and ``~/.pg_service.conf`` (``postgresql+psycopg:///?service=NAME``).

Files in a store that record commands or locations are made without world access
(:func:`private_file`).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MASK = "***"
#: ``scheme://user:password@`` (the password is everything up to the last ``@`` before the host).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^\s/]*)@")
#: ``password=...`` in a query string or a libpq keyword string.
_KEYWORD = re.compile(r"(?P<head>\bpassword=)(?P<secret>[^&\s]+)", re.IGNORECASE)


def redact(text: str | None) -> str:
    """``text`` with every URL password and ``password=`` value replaced by ``***``."""
    if not text:
        return text or ""
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _KEYWORD.sub(lambda m: f"{m['head']}{MASK}", text)


def password_env(url: str | None) -> dict[str, str]:
    """``{"PGPASSWORD": ...}`` for a PostgreSQL URL that carries a password (for worker processes),
    else ``{}``; an explicit ``PGPASSWORD`` already set wins."""
    if not url or "PGPASSWORD" in os.environ:
        return {}
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        return {}
    if parsed.password and parsed.get_backend_name() == "postgresql":
        return {"PGPASSWORD": str(parsed.password)}
    return {}


def private_file(path: Path) -> None:
    """Remove world access from ``path`` (group keeps what it had: a shared cluster group may read)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o007:
            os.chmod(path, mode & ~0o007)
    except OSError:
        pass
