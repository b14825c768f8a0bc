"""`concilio serve` (the resident server) and `concilio ps` (what it, or this machine, has loaded)."""

from __future__ import annotations

import argparse
import json
import sys

from agents.errors import SettingsError
from graphs.cli.text import table


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from agents.security import listener_key
    from agents.settings import settings
    from agents.slot import remote
    from graphs.server.app import create_app
    from graphs.server.service import Service

    s = settings()
    key = listener_key(args.host, args.api_key or (s.api_key.get_secret_value() if s.api_key else None),
                       "concilio serve")
    running = remote.find() if s.server is None else None
    if running is not None:
        raise SettingsError(f"a concilio server already runs at {running.url} (pid {running.pid}): one per data "
                            "folder; stop it first, or set CONCILIO_DATA_DIR for another")
    service = Service(args.profile, max_queue=args.max_queue, keep_alive=args.keep_alive)
    config = uvicorn.Config(create_app(service, api_key=key), host=args.host, port=args.port, log_level="warning",
                            lifespan="off", timeout_graceful_shutdown=5)
    server = _Server(config, service, args.host)
    server.run()
    return 0


class _Server:
    """uvicorn.Server, with the runtime file written once it listens and runs cancelled as soon as a stop is
    asked for (uvicorn would otherwise wait for open streams before anything else happens)."""

    def __new__(cls, config, service, host):
        import uvicorn

        class Server(uvicorn.Server):
            async def startup(self, sockets=None):
                await super().startup(sockets)
                if not self.started:
                    return
                from agents.slot import remote

                port = self.servers[0].sockets[0].getsockname()[1]
                shown = f"[{host}]" if ":" in host else host
                url = f"http://{shown}:{port}"
                remote.write(url, service.team.profile.name)
                print(f"concilio: serving profile {service.team.profile.name} at {url}/v1 (pid "
                      f"{service.ps()['pid']}); Ctrl-C stops", file=sys.stderr, flush=True)

            def handle_exit(self, sig, frame):
                service.closing.set()
                for run in list(service.runs.values()):
                    run.cancel.set()
                super().handle_exit(sig, frame)

            async def shutdown(self, sockets=None):
                import asyncio

                from agents.slot import remote

                remote.remove()
                await super().shutdown(sockets)
                await asyncio.get_running_loop().run_in_executor(None, service.shutdown)
                print("concilio: stopped; models unloaded", file=sys.stderr, flush=True)

        return Server(config)


def cmd_ps(args: argparse.Namespace) -> int:
    import httpx

    from agents.paths import runtime_dir
    from agents.slot import remote
    from agents.slot.guard import MachineGuard

    server = remote.find()
    if server is None:
        holder = MachineGuard(runtime_dir()).holder()
        report = {"server": None, "guard_holder": holder}
        print(json.dumps(report) if args.json else "no concilio server is running (concilio serve starts one); "
              + (f"pid {holder} has local models loaded" if holder else "no process has local models loaded"))
        return 0
    report = httpx.get(f"{server.url}/api/ps", headers=remote.headers(server), timeout=5).json()
    if args.json:
        print(json.dumps(report))
        return 0
    slot = report["slot"]
    print(f"server pid {report['pid']} · profile {report['profile']} · up {report['uptime_s']:.0f} s · budget "
          f"{slot['budget']} · keep-alive {report['keep_alive_s']:.0f} s")
    rows = [["model", "need MB", "device", "idle s", "state", "pinned", "prompt state"]]
    rows += [[r["model"], f"{r['need_mb']:.0f}", r["device"], f"{r['idle_s']:.0f}", r["state"],
              "yes" if r["pinned"] else "no", r.get("prompt_state", "-")] for r in slot["resident"]]
    print(table(rows) if len(rows) > 1 else "no model loaded")
    for kept in slot.get("kept_states", []):
        print(f"kept prompt states: {kept['file']} (window {kept['window']}): {kept['states']}, {kept['mb']} MB")
    if slot["waiting"]:
        print("waiting: " + ", ".join(w["model"] for w in slot["waiting"]))
    for run in report["runs"]:
        print(f"run {run['id']} · {run['model']} · thread {run['thread'] or '-'} · {run['seconds']:.0f} s")
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("serve", help="one resident concilio for the machine, behind the OpenAI chat API")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only; any other "
                                                       "needs an API key)")
    s.add_argument("--port", type=int, default=8765, help="port (0: any free one; default 8765)")
    s.add_argument("--profile", help="embedded, gpt4all-seed, or a config .toml (default: auto)")
    s.add_argument("--api-key", help="key clients must send as 'Authorization: Bearer KEY' (or CONCILIO_API_KEY)")
    s.add_argument("--keep-alive", type=float, help="seconds an idle model stays loaded (CONCILIO_KEEP_ALIVE)")
    s.add_argument("--max-queue", type=int, default=32, help="runs in flight before new ones get 429")
    s.set_defaults(func=cmd_serve)
    p = sub.add_parser("ps", help="what the server (or this machine) has loaded, and who waits")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ps)
