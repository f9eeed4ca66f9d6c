"""A bounded load generator: N concurrent keep-alive clients on loopback, for a fixed number
of requests, timing each one. Runs in its own process so it does not share the server's GIL."""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_SECONDS = 120  # a run never outlives this, whatever happens to the server


@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] | None = None


def measure(
    base_url: str, make_request: Callable[[int], Request], *, clients: int, requests: int,
    warmup: int = 20,
) -> list[float]:
    """Latencies in milliseconds of `requests` requests spread over `clients` threads."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run, (base_url, make_request, clients, requests, warmup))


def _run(base_url: str, make_request: Callable[[int], Request], clients: int, requests: int,
         warmup: int) -> list[float]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + MAX_SECONDS
    counter = iter(range(requests + warmup))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            request = make_request(n)
            started = time.perf_counter()
            try:
                connection.request(request.method, request.path, body=request.body,
                                   headers=request.headers or {})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.status >= 400:
                errors.append(f"HTTP {response.status} for {request.path}")
            elif n >= warmup:
                with lock:
                    latencies.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return latencies
