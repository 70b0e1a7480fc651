"""Test helpers for weights: a local HTTP server (127.0.0.1 only), no-network guard, manifests."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Served:
    """A file the test server sends.

    Attributes:
        body: the bytes.
        cut_after: the first GET sends only this many bytes, then closes the connection.
        ignore_range: answer every request with the whole file (status 200).
        no_length: send no Content-Length (the body ends when the connection closes).
        content_type: the Content-Type header to send, if any.
        redirect_to: answer 302 with this Location instead of a body.
    """

    body: bytes
    cut_after: int | None = None
    ignore_range: bool = False
    cuts_done: int = 0
    no_length: bool = False
    content_type: str | None = None
    redirect_to: str | None = None


@dataclass
class LocalServer:
    """The running server: what it serves and the requests it saw (path, Range header)."""

    port: int
    files: dict[str, Served] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes, **options) -> str:
        self.files[path] = Served(body=body, **options)
        return self.url(path)


def _handler(state: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            state.requests.append((self.path, self.headers.get("Range")))
            served = state.files.get(self.path)
            if served is None:
                self.send_error(404)
                return
            if served.redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", served.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            range_header = self.headers.get("Range")
            if range_header and not served.ignore_range:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                if start >= len(served.body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(served.body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(served.body) - 1}/{len(served.body)}")
            else:
                self.send_response(200)
            body = served.body[start:]
            if not served.no_length:
                self.send_header("Content-Length", str(len(body)))
            if served.content_type is not None:
                self.send_header("Content-Type", served.content_type)
            self.end_headers()
            if served.cut_after is not None and served.cuts_done == 0:
                served.cuts_done += 1
                self.wfile.write(body[:served.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def serve_locally() -> Iterator[LocalServer]:
    """An HTTP server on 127.0.0.1 (random port) for the duration of the block."""
    state = LocalServer(port=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A local HTTP server (127.0.0.1 only), with proxies disabled for the test."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with serve_locally() as state:
        yield state


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a URL or a socket connection fails the test."""
    import socket
    import urllib.request

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network used: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes."""
    import random

    return random.Random(seed).randbytes(size)


def torch_bytes(seed: int = 0, size: int = 16) -> bytes:
    """A small genuine torch state dict (``torch.save`` zip), as a format-checked download must be."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"w": torch.randn(size, generator=torch.Generator().manual_seed(seed))}, buffer)
    return buffer.getvalue()


def write_manifest(path: Path, entries: list[dict], defaults: list[str] | None = None) -> Path:
    """A manifest YAML with ``entries`` (missing fields filled with test values)."""
    import json

    full = []
    for entry in entries:
        full.append({"role": "aei", "format": "pth", "licence": "Test-1.0", "source": "a test",
                     "size": None, "sha256": None, **entry})
    # JSON is YAML: no YAML writer needed.
    path.write_text(json.dumps({"version": 1, "defaults": defaults or [], "weights": full}, indent=1))
    return path


def files_under(folder: Path) -> list[Path]:
    """Every file (not folder) below ``folder``."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
