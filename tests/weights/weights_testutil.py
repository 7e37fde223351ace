"""Helpers for the weights and fetch-weights CLI tests: loopback HTTP server, tiny checkpoints,
manifest snippets. Nothing here touches the network: the server listens on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch


@dataclass
class Route:
    """What the server does for one path.

    mode: ``range`` (honours Range), ``ignore_range`` (always 200 + whole file), ``forbidden``
    (403), ``drop_once`` (first request: headers for the whole answer, half the body, then the
    connection is closed; later requests behave like ``range``), ``drop_always``, ``slow``
    (``range`` after a 0.3 s pause), ``trickle`` (``range``, the body sent 4 KiB every 20 ms, so
    a client can be killed mid-download).
    """

    data: bytes
    mode: str = "range"
    hits: int = 0


@dataclass
class LoopbackServer:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, path: str, data: bytes, mode: str = "range") -> str:
        self.routes[path] = Route(data, mode)
        return self.base_url + path

    def requests_for(self, path: str) -> list[str | None]:
        """Range headers of the requests received for ``path`` (None when absent)."""
        return [rng for p, rng in self.log if p == path]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        state = self.server.state
        rng = self.headers.get("Range")
        state.log.append((self.path, rng))
        route = state.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        route.hits += 1
        if route.mode == "slow":
            time.sleep(0.3)  # long enough for a concurrent client to collide
        if route.mode == "forbidden":
            self.send_error(403)
            return
        data, start = route.data, 0
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if match and route.mode != "ignore_range":
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        drop = route.mode == "drop_always" or (route.mode == "drop_once" and route.hits == 1)
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if route.mode == "trickle":
            for start in range(0, len(body), 4096):
                self.wfile.write(body[start : start + 4096])
                self.wfile.flush()
                time.sleep(0.02)
            return
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: LoopbackServer


@contextmanager
def serve() -> Iterator[LoopbackServer]:
    """Run a :class:`LoopbackServer` in a thread for the duration of the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = LoopbackServer(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class TinyCheckpoint:
    path: Path
    state: dict[str, torch.Tensor]
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def make_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A small conv + batch-norm state_dict with float and integer entries."""
    g = torch.Generator().manual_seed(seed)
    return {
        "model1.0.weight": torch.randn(4, 1, 3, 3, generator=g),
        "model1.0.bias": torch.randn(4, generator=g),
        "model1.2.running_mean": torch.randn(4, generator=g),
        "model1.2.num_batches_tracked": torch.tensor(7, dtype=torch.long),
        "model_out.weight": torch.randn(2, 4, 1, 1, generator=g),
    }


def save_pth(path: Path, state: dict[str, torch.Tensor]) -> TinyCheckpoint:
    torch.save(state, path)
    data = path.read_bytes()
    return TinyCheckpoint(path, state, data, hashlib.sha256(data).hexdigest())


def model_toml(
    name: str,
    sources: list[str],
    *,
    sha256: str | None,
    size: int | None,
    fmt: str = "pth",
    arch: str = "cic.tiny",
) -> str:
    """One ``[models."name"]`` table; ``sources`` are TOML inline tables as strings."""
    lines = [f'[models."{name}"]', f'arch = "{arch}"', f"sources = [{', '.join(sources)}]"]
    if sha256 is not None:
        lines.append(f'sha256 = "{sha256}"')
    if size is not None:
        lines.append(f"bytes = {size}")
    lines += [f'format = "{fmt}"', 'licence = "MIT"', 'paper = "test"', "input_size = 8"]
    return "\n".join(lines) + "\n"


def url_source(url: str) -> str:
    return f'{{url = "{url}"}}'
