"""The hub check answers in seconds: offline flags, a closed port, an open one."""

import socket
import time

import pytest

from lmbench.hub import hub_endpoint, hub_reachable


@pytest.fixture
def no_offline_flags(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_offline_flags_answer_at_once(monkeypatch, no_offline_flags, var):
    monkeypatch.setenv(var, "1")
    started = time.monotonic()
    assert hub_reachable() is False and time.monotonic() - started < 0.1


def test_endpoint_host_and_port(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:8123/mirror")
    assert hub_endpoint() == ("127.0.0.1", 8123)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example.org")
    assert hub_endpoint() == ("hub.example.org", 443)


def test_open_and_closed_endpoints(monkeypatch, no_offline_flags):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert hub_reachable(timeout=2) is True
    server.close()  # nothing listens there now
    assert hub_reachable(timeout=2) is False
