"""`graphs.api.ask` when a resident server runs: the turn runs there and streams back the same progress events.

The request is an ordinary OpenAI chat completion (`model` = `concilio` or `concilio-<domain>`, the question as
the one user message) with the thread in `X-Concilio-Thread` and `X-Concilio-Events: 1`, which makes the server
add each progress event (`concilio_event`) and, in the last chunk, the run's result (`concilio`) to its chunks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from agents.slot.remote import ServerInfo, ServerRunError, stream_chat


def serves(server: ServerInfo, profile: object) -> bool:
    """The server runs this profile (None: whatever the server runs)."""
    return profile is None or (isinstance(profile, str) and profile == server.profile)


def ask(server: ServerInfo, text: str, *, thread_id: str | None, force_domain: str | None,
        on_event: Callable[[dict], None] | None, cache: bool | None = None, user: str | None = None,
        request_id: str | None = None) -> dict[str, Any]:
    thread_id = thread_id or uuid.uuid4().hex[:12]
    body = {"model": "concilio" + (f"-{force_domain}" if force_domain else ""),
            "messages": [{"role": "user", "content": text}], **({"user": user} if user else {})}

    def on_chunk(data: dict) -> None:
        event = data.get("concilio_event")
        if event is not None and on_event is not None:
            on_event(event)

    headers = {"X-Concilio-Thread": thread_id, **({"Cache-Control": "no-cache"} if cache is False else {}),
               **({"Idempotency-Key": request_id} if request_id else {})}
    result = stream_chat(server, body, headers, on_chunk)
    if result is None:
        raise ServerRunError(f"the server at {server.url} ended the answer without a result; ask again to resume")
    return {**result, "served_by": server.pid}
