"""A scripted OpenAI-compatible server on loopback, for what a real server can't do on demand: answer 500,
hang, send invalid JSON, break mid-stream. It records every request it gets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """mode: ok | chat500 | down500 | hang | invalid | break | refuse400"""

    def __init__(self, mode: str = "ok", reply: str = "Respuesta del servidor de prueba.", port: int = 0) -> None:
        self.mode, self.reply = mode, reply
        self.requests: list[tuple[str, str, dict]] = []
        self.release = threading.Event()  # ends a hang
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.requests.append(("GET", self.path, {}))
                if fake.mode == "down500":
                    return self._send(500, b'{"error": "down"}')
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(("POST", self.path, body))
                if self.path.endswith("/api/generate"):
                    return self._send(200, b'{"done": true}')
                if fake.mode in ("chat500", "down500"):
                    return self._send(500, b'{"error": "internal"}')
                if fake.mode == "refuse400":
                    return self._send(400, b'{"error": "no such model"}')
                if fake.mode == "hang":
                    fake.release.wait(30)
                    return None
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if fake.mode == "invalid":
                    self.wfile.write(b"data: {this is not json\n\n")
                    return None
                words = fake.reply.split(" ")
                for i, word in enumerate(words):
                    if fake.mode == "break" and i == 3:
                        self.wfile.flush()
                        self.connection.shutdown(2)  # the server dies mid-answer
                        return None
                    piece = word if i == 0 else " " + word
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.005)
                self.wfile.write(b"data: [DONE]\n\n")
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def chats(self) -> int:
        return sum(path.endswith("/chat/completions") for _, path, _ in self.requests)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
