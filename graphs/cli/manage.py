"""`concilio models`, `threads`, `memories` and `feedback`: what is configured and what is stored."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agents.errors import ConcilioError
from graphs.cli.text import size, table, terminal_safe


def cmd_models(args: argparse.Namespace) -> int:
    from agents.models.profiles import describe, resolve

    profile = resolve(args.profile, fetch=False, require=False)  # a seed set with gaps is listed, not refused
    from graphs.cli import steps

    rows = describe(profile)
    needs = model_needs(profile, rows)
    if args.json:
        print(json.dumps({"profile": profile.name, "note": profile.note,
                          "roles": [asdict(r) | needs[r.role] for r in rows],
                          "step_policy": steps.policy_json(profile.name)}))
        return 0
    print(f"active profile: {profile.name}" + (f"  ({profile.note})" if profile.note else ""))
    lines = [["role", "model", "size", "state", "backend", "template", "context", "device", "need", "fits", "file"]]
    for r in rows:
        need = needs[r.role]["need_mb"]
        lines.append([r.role, r.model, size(r.size_bytes), r.state if r.state in ("ok", "server") else r.state.upper(),
                      r.backend, r.chat_template, str(r.context_window), r.device,
                      "-" if need is None else size(int(need * 2**20)), needs[r.role]["fits"], r.path])
    print(table(lines))
    print(steps.policy_text(profile.name))
    if profile.name == "embedded" and any(r.state == "missing" for r in rows):
        print("(the embedded model is fetched from PyPI on the first `concilio ask`)")
        return 0
    for r in rows:
        if r.state not in ("ok", "server"):
            what = "is missing" if r.state == "missing" else f"found but unusable ({size(r.size_bytes)}, {r.state})"
            print(f"{r.role}: {r.path} {what}. Fix: {r.fix}")
    return 0


def model_needs(profile, rows) -> dict[str, dict]:
    """Per role: the memory its model will need (read from the GGUF header, nothing loaded) and whether the
    slot budget and the GPU (or RAM) hold it."""
    from agents.settings import settings
    from agents.slot import fit
    from agents.slot.memory_need import estimate
    from agents.slot.policy import parse_budget

    budget = parse_budget(settings().slot_budget)
    gpu, ram = fit.gpu_memory_mb(), fit.ram_mb()
    out = {}
    for r in rows:
        spec = profile.role(r.role).model
        if r.state != "ok":
            out[r.role] = {"need_mb": None, "fits": "-"}
            continue
        try:
            need = estimate(spec).total_mb
        except ConcilioError as exc:
            out[r.role] = {"need_mb": None, "fits": f"unknown: {exc}"}
            continue
        out[r.role] = {"need_mb": round(need, 1), "fits": fit.verdict(need, budget, spec.device, gpu, ram)}
    return out


def cmd_threads(args: argparse.Namespace) -> int:
    from agents.user_text import validate_user_id
    from graphs.cooperation import build_graph
    from memory import threads
    from memory.checkpoints import checkpointer

    user = validate_user_id(args.user)
    with checkpointer() as saver:
        graph = build_graph(checkpointer=saver)
        if args.action == "list":
            items = threads.list_threads(graph, saver, user)
            if args.json:
                print(json.dumps(threads.as_dicts(items), ensure_ascii=False))
                return 0
            rows = [["thread", "turns", "updated", "last question"]]
            rows += [[t.thread_id, str(t.turns) + (" +1 unfinished" if t.pending else ""), t.updated[:19],
                      t.last_question[:60]] for t in items]
            print(table(rows) if items else "no threads yet: concilio ask \"...\" starts one")
            return 0
        if not args.thread:
            raise ConcilioError(f"concilio threads {args.action} needs a thread id")
        if args.action == "show":
            turns = threads.show(graph, args.thread, user)
            if args.json:
                print(json.dumps(threads.as_dicts(turns), ensure_ascii=False))
                return 0
            for t in turns:
                route = t.route.get("domain", "?")
                print(terminal_safe(f"── turn {t.turn} · {route} · {t.language or '?'} · {', '.join(t.models) or '-'}"))
                print(f"Q: {terminal_safe(t.question)}")
                print(f"A: {terminal_safe(t.answer)}" if t.answer is not None else
                      "A: (unfinished: ask it again to resume)")
            return 0
        if args.action == "delete":
            threads.delete(saver, graph, args.thread, user)
            print(f"deleted thread {args.thread}")
            return 0
        new = args.to or f"{args.thread}-fork"
        copied = threads.fork(graph, args.thread, new, turn=args.turn, user=user)
        print(f"forked {args.thread} after turn {copied} into {new}: concilio ask \"...\" --thread {new}")
        return 0


def cmd_memories(args: argparse.Namespace) -> int:
    from agents.user_text import validate_user_id
    from memory import store as memories

    user = validate_user_id(args.user)
    with memories.open_store() as store:
        if args.action == "delete":
            if not args.key:
                raise ConcilioError("concilio memories delete needs a key (see concilio memories list)")
            memories.forget(store, args.key, user)
            print(f"forgot {args.key}")
            return 0
        items = memories.list_memories(store, user)
    if args.json:
        print(json.dumps(memories.as_dicts(items), ensure_ascii=False))
    elif items:
        print(table([["key", "value", "learned from", "updated"]]
                     + [[m.key, m.value, m.source, m.updated] for m in items]))
    else:
        print("no memories yet: tell concilio your name, where you live or what you work with")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from graphs.api import feedback

    done = feedback(args.thread, args.verdict, domain=args.domain, turn=args.turn, background=True, user=args.user)
    print(json.dumps(done, ensure_ascii=False) if args.json else
          f"feedback {done['verdict']} on thread {done['thread_id']} turn {done['turn']} "
          f"(routed {done['routed']}): {done['learned']}")
    return 0
