"""Who may talk to a concilio listener (the metrics endpoint, the resident server): pure decisions.

A listener on loopback serves this machine only; on any other address (0.0.0.0, ::, a LAN address, a host
name) it needs CONCILIO_API_KEY, and every request must then carry `Authorization: Bearer <key>`. A key, once
set, is required on loopback too.
"""

from __future__ import annotations

import hmac
import ipaddress

from agents.errors import ApiKeyRequiredError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name to listen on) reaches this machine only. '' and 0.0.0.0 don't."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False  # another host name: it may resolve to any interface
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def needs_key(host: str) -> bool:
    """A listener on `host` must require CONCILIO_API_KEY."""
    return not is_loopback(host)


def key_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented key with the configured one."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                     expected.encode("utf-8", "replace"))


def bearer_matches(authorization: str | None, expected: str) -> bool:
    """Whether an `Authorization` header value carries `Bearer <expected>`."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and key_matches(token.strip(), expected)


def listener_key(host: str, key: str | None, what: str) -> str | None:
    """The key a listener on `host` must check (None: no key, loopback only); ApiKeyRequiredError when a
    non-loopback listener has none."""
    if key:
        return key
    if needs_key(host):
        raise ApiKeyRequiredError(what, host)
    return None
