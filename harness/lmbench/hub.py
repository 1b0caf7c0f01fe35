"""Whether the Hugging Face hub can be reached, decided in seconds.

Offline, ``datasets`` and ``transformers`` retry HTTP for a minute or more before failing;
components that accept hub names ask :func:`hub_reachable` first and fail at once with a line
that names the local alternative.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit

_OFF = ("", "0", "false", "no")


def hub_endpoint() -> tuple[str, int]:
    """The hub's host and port: ``$HF_ENDPOINT`` if set, else huggingface.co:443."""
    endpoint = os.environ.get("HF_ENDPOINT", "")
    if not endpoint:
        return "huggingface.co", 443
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    return parts.hostname or "huggingface.co", parts.port or (80 if parts.scheme == "http" else 443)


def hub_reachable(timeout: float = 3.0) -> bool:
    """False at once when ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` is set; else whether a TCP
    connection to the hub opens within ``timeout`` seconds (name lookup included)."""
    if any(os.environ.get(var, "0").strip().lower() not in _OFF for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return False
    host, port = hub_endpoint()
    answer: list[bool] = []

    def probe() -> None:  # in a thread: getaddrinfo itself ignores socket timeouts
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])
