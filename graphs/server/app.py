"""The HTTP front door of `concilio serve` (FastAPI; sse-starlette for streams): OpenAI's chat API, `ps`, health.

    GET  /v1/models              the graph (concilio, concilio-legal|technical|general) and each model by name
    POST /v1/chat/completions    streamed or not; X-Concilio-Thread continues a stored thread;
                                 Cache-Control: no-cache runs the models even when the answer is cached;
                                 Idempotency-Key (with a thread): a retry gets the first attempt's answer
    GET  /api/ps                 resident models, the queue, the budget, runs in flight (concilio ps)
    GET  /health                 {"pid", "profile"}: how clients find out the server is this one

Nothing here touches a model: requests are checked and translated (graphs/server/wire.py), the work runs in the
Service's worker threads (graphs/server/service.py), and events come back through an asyncio queue.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from agents.errors import (
    ConcilioError,
    EmptyQuestionError,
    QuestionExceedsWindowError,
    QuestionTooLongError,
    RequestIdReusedError,
    RunCancelled,
    ThreadIdError,
)
from agents.security import bearer_matches
from agents.user_text import (
    check_question_fits,
    clean_question,
    validate_request_id,
    validate_thread_id,
    validate_user_id,
)
from graphs.server import wire
from graphs.server.service import Run, Service

MAX_BODY = 4 * 2**20  # bytes: a request larger than this is refused (413) before it is parsed
_END = object()


def create_app(service: Service, *, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="concilio", version="1", docs_url=None, redoc_url=None)
    app.state.service = service

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api_key and request.url.path != "/health" and not bearer_matches(request.headers.get("authorization"),
                                                                             api_key):
            return _error(wire.RequestError(401, "a valid API key is required: Authorization: Bearer <key>",
                                            code="invalid_api_key"))
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return _error(wire.RequestError(413, f"the request is {int(length):,} bytes; the limit is "
                                                 f"{MAX_BODY:,}", code="request_too_large"))
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "pid": service.ps()["pid"], "profile": service.team.profile.name}

    @app.get("/v1/models")
    async def models() -> dict:
        service.refresh()
        listing = wire.models_list(service.ids, int(service.started), service.team.profile.name)
        paths = service.model_paths()
        for item in listing["data"]:
            item["concilio"]["path"] = paths.get(item["id"]) if item["concilio"]["kind"] == "model" else None
        return listing

    @app.get("/api/ps")
    async def ps() -> dict:
        return service.ps()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        try:
            raw = await request.body()
            if len(raw) > MAX_BODY:
                raise wire.RequestError(413, f"the request is {len(raw):,} bytes; the limit is {MAX_BODY:,}",
                                        code="request_too_large")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise wire.RequestError(400, "the request body is not JSON", code="invalid_json") from None
            req = wire.parse_request(body)
            service.refresh()
            target = wire.resolve_target(service.ids, req.model)
            thread = request.headers.get("x-concilio-thread") or req.thread_id
            thread = validate_thread_id(thread) if thread else None
            user = validate_user_id(req.user) if req.user else None  # OpenAI's `user`: whose threads, memories
            events = request.headers.get("x-concilio-events") == "1"
            request_id = validate_request_id(request.headers.get("idempotency-key"))  # before admit: none leaks
            work = _work(service, req, target)
            run = service.admit(req.model, thread if target.kind == "graph" else None, user)
            if "no-cache" in request.headers.get("cache-control", "").lower():
                run.cache = False  # HTTP's own way to ask for a fresh answer
            run.request_id = request_id
        except wire.RequestError as exc:
            return _error(exc)
        except ConcilioError as exc:
            return _error(_as_request_error(exc))
        if req.stream:
            return EventSourceResponse(_stream(service, run, req, target, work, events), ping=15,
                                       sep="\n")
        return await _complete(service, run, req, target, work)

    return app


def _work(service: Service, req: wire.ChatRequest, target: wire.Target):
    """The checked input of the run: the conversation for the graph, the messages for one model."""
    if target.kind == "graph":
        if req.stops:  # several models write the answer: a stop string would cut one of them mid-flow
            raise wire.RequestError(400, f"stop is for one model (model: one of /v1/models' own models); the "
                                         f"graph {req.model} composes its answer from several", param="stop")
        conv = wire.conversation(req)
        question = clean_question(conv.question)
        check_question_fits(service.team, question)  # before anything is stored: 413 with tokens vs window
        return wire.Conversation(question, conv.history)
    return wire.single_model_messages(req)


def _call(service: Service, run: Run, target: wire.Target, req: wire.ChatRequest, work, on_event):
    if target.kind == "graph":
        return service.run_graph(run, target, work, on_event)
    return service.run_model(run, target, req, work, on_event)  # its tokens arrive as "token" events


async def _complete(service: Service, run: Run, req: wire.ChatRequest, target: wire.Target, work) -> JSONResponse:
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(service.pool, _call, service, run, target, req, work, None)
    except ConcilioError as exc:
        return _error(_as_request_error(exc))
    except Exception as exc:  # noqa: BLE001 - a run that fails answers 500 with its message; the server lives
        return _error(wire.RequestError(500, f"{type(exc).__name__}: {exc}", code="run_failed"))
    finally:
        service.done(run)
    text, finish, trace, extra = _outcome(target, result)
    return JSONResponse(wire.completion(wire.new_id(), req.model, text, finish, wire.usage(trace), extra))


async def _stream(service: Service, run: Run, req: wire.ChatRequest, target: wire.Target, work, events: bool):
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    put = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)  # noqa: E731 - from worker threads
    cid = wire.new_id()
    answer_node = "integrate"

    def on_event(event: dict) -> None:
        put(("event", event))

    def work_thread() -> None:
        try:
            put(("result", _call(service, run, target, req, work, on_event)))
        except BaseException as exc:  # noqa: BLE001 - handed to the stream
            put(("error", exc))
        finally:
            put(_END)

    future = loop.run_in_executor(service.pool, work_thread)
    streamed: list[str] = []
    try:
        yield _data(wire.chunk(cid, req.model, {"role": "assistant", "content": ""}))
        while True:
            item = await queue.get()
            if item is _END:
                break
            kind, value = item
            if kind == "event":
                extra = {"concilio_event": value} if events else None
                if value.get("event") == "token":
                    if value.get("node") in (answer_node, "api"):
                        streamed.append(value["text"])
                        yield _data(wire.chunk(cid, req.model, {"content": value["text"]}, extra=extra))
                    else:  # a draft or a review being written: shown as the model's thinking
                        yield _data(wire.chunk(cid, req.model, {"reasoning_content": value["text"]}, extra=extra))
                    continue
                line = wire.progress_text(value)
                if line is not None or extra:
                    delta = {"reasoning_content": line + "\n"} if line is not None else {}
                    yield _data(wire.chunk(cid, req.model, delta, extra=extra))
            elif kind == "error":
                yield _data(_error_chunk(value))
                yield "[DONE]"
                return
            else:
                text, finish, trace, extra = _outcome(target, value)
                rest = _rest(text, "".join(streamed))
                if rest:
                    yield _data(wire.chunk(cid, req.model, {"content": rest}))
                yield _data(wire.chunk(cid, req.model, {}, finish=finish, extra={"concilio": extra}))
                if req.stream_options and req.stream_options.include_usage:
                    yield _data(wire.chunk(cid, req.model, usage_=wire.usage(trace)))
        yield "[DONE]"
    finally:
        if not future.done():
            run.cancel.set()  # the client left mid-answer: stop at the next token, free the slot
        service.done(run)


def _outcome(target: wire.Target, result: dict[str, Any]) -> tuple[str, str, list[dict], dict]:
    if target.kind == "graph":
        return result["answer"], "stop", result["trace"], result
    row = result["trace_row"]
    return result["text"], wire.finish_reason(result["finish"]), [row], {"finish": result["finish"],
                                                                          "trace_row": row}


def _rest(answer: str, streamed: str) -> str:
    """What the client still needs after what was streamed: nothing, the remainder, or the answer with a mark
    saying the streamed rewrite was replaced (a rewrite discarded by the guard keeps the draft)."""
    if not streamed:
        return answer
    if answer.startswith(streamed):
        return answer[len(streamed):]
    return "\n\n(the rewrite above was discarded; the answer is:)\n" + answer


def _data(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False)


def _as_request_error(exc: ConcilioError) -> wire.RequestError:
    if isinstance(exc, (QuestionTooLongError, QuestionExceedsWindowError)):
        return wire.RequestError(413, str(exc), code="context_length_exceeded")
    if isinstance(exc, (EmptyQuestionError, ThreadIdError)):
        return wire.RequestError(400, str(exc), code=type(exc).__name__)
    if isinstance(exc, RequestIdReusedError):  # as draft-ietf-httpapi-idempotency-key-header answers it
        return wire.RequestError(422, str(exc), code="idempotency_key_reused")
    if isinstance(exc, RunCancelled):
        return wire.RequestError(503, str(exc), code="cancelled")
    return wire.RequestError(500 if exc.exit_code == 1 else 400, str(exc), code=type(exc).__name__)


def _error_chunk(exc: BaseException) -> dict:
    err = _as_request_error(exc) if isinstance(exc, ConcilioError) else wire.RequestError(
        500, f"{type(exc).__name__}: {exc}", code="run_failed")
    body = err.body()
    body["error"]["exit_code"] = getattr(exc, "exit_code", 1)
    return body


def _error(exc: wire.RequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)
