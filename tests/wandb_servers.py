"""Local stand-ins for a W&B server that cannot take a run, on the loopback interface only (tests
and benchmarks/wandb_unreachable.py): each is a context manager yielding its base URL.

- closed_port: nothing listens (the connection is refused);
- black_hole: TCP connections are accepted (the kernel's backlog) and never answered;
- rate_limited: every request answered HTTP 429 Too Many Requests (Retry-After: 1), as W&B's
  server answers when too many runs start at once;
- never_starts: a GET is answered (the server is up), a POST (wandb.init's GraphQL call that
  creates the run) is read and never answered: an overloaded server.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from typing import Iterator


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    yield "http://127.0.0.1:9"


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    hang_posts = False
    requests: list[str]

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.requests.append(f"GET {self.path}")
        self._answer(200 if self.hang_posts else 429)

    def do_POST(self) -> None:
        self.requests.append(f"POST {self.path}")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.hang_posts:
            while not self.server.closing:
                time.sleep(0.1)
            return
        self._answer(429)


@contextlib.contextmanager
def _http_server(hang_posts: bool) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"hang_posts": hang_posts, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads, server.closing = True, False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.closing = True
        server.shutdown()
        server.server_close()


def rate_limited() -> contextlib.AbstractContextManager[str]:
    return _http_server(hang_posts=False)


def never_starts() -> contextlib.AbstractContextManager[str]:
    return _http_server(hang_posts=True)


SERVERS = {"closed port": closed_port, "black hole": black_hole, "429 always": rate_limited,
           "never starts the run": never_starts}
