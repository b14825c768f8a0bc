"""Listeners beyond loopback need CONCILIO_API_KEY; with a key, every request needs the bearer token
(agents/security.py, used by `concilio metrics`)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from agents.errors import ApiKeyRequiredError
from agents.security import bearer_matches, is_loopback, key_matches, listener_key, needs_key
from graphs.cli import main
from graphs.monitor import serve


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST.", True), ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.5", False), ("10.0.0.1", False),
    ("example.com", False), ("localhost.evil.com", False), ("127.0.0.1.nip.io", False), ("fe80::1%eth0", False),
])
def test_is_loopback_and_needs_key(host, loopback):
    assert is_loopback(host) is loopback and needs_key(host) is (not loopback)


@pytest.mark.parametrize("header, ok", [
    ("Bearer s3cret", True), ("bearer s3cret", True), ("  Bearer   s3cret ", True),
    ("Bearer s3cre", False), ("Bearer s3cret2", False), ("Basic s3cret", False), ("s3cret", False),
    ("", False), (None, False), ("Bearer ", False), ("Bearer caf\udce9", False),
])
def test_bearer_matches(header, ok):
    assert bearer_matches(header, "s3cret") is ok


def test_key_matches_is_exact():
    assert key_matches("k", "k") and not key_matches(None, "k") and not key_matches("K", "k")


@pytest.mark.parametrize("host, key, expected", [
    ("127.0.0.1", None, None), ("127.0.0.1", "k", "k"), ("0.0.0.0", "k", "k"), ("0.0.0.0", None, ApiKeyRequiredError),
    ("::", "", ApiKeyRequiredError),
])
def test_listener_key(host, key, expected):
    if expected is ApiKeyRequiredError:
        with pytest.raises(ApiKeyRequiredError, match="CONCILIO_API_KEY"):
            listener_key(host, key, "x")
    else:
        assert listener_key(host, key, "x") == expected


def test_concilio_metrics_beyond_loopback_without_a_key_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("CONCILIO_API_KEY", raising=False)
    assert main(["metrics", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "CONCILIO_API_KEY" in err and "'0.0.0.0'" in err and "Traceback" not in err


def status(port: int, header: str | None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": header} if header
                                     else {})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_with_a_key_every_request_needs_the_bearer_token(monkeypatch):
    monkeypatch.setenv("CONCILIO_API_KEY", "s3cret")
    server = serve(0, "0.0.0.0")
    try:
        port = server.server_port
        assert server.requires_key
        assert [status(port, h) for h in (None, "Bearer nope", "Basic s3cret", "Bearer s3cret")] == [401, 401, 401, 200]
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_without_a_key_serves_as_before(monkeypatch):
    monkeypatch.delenv("CONCILIO_API_KEY", raising=False)
    server = serve(0)
    try:
        assert not server.requires_key and status(server.server_port, None) == 200
    finally:
        server.shutdown()
        server.server_close()
