"""A lean HTTP/1.1 load generator for the benchmarks (keep-alive, fixed concurrency).

Written on raw asyncio streams so the client spends far less CPU per request than the servers it
measures; with two cores shared by client, gateway and mock, a heavy client would skew results.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from dataclasses import dataclass, field

__all__ = ["LoadResult", "run_load"]

# The first SSE event carrying non-empty content marks the first token.
_CONTENT = re.compile(rb'"content":\s?"[^"]')


@dataclass
class LoadResult:
    """Latencies in ms of every completed request, errors, wall time, time to first event."""

    latencies_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0

    def pct(self, q: float, which: str = "latencies_ms") -> float:
        values = sorted(getattr(self, which))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


async def _read_response(reader: asyncio.StreamReader, t0: float, ttft: list[float]) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        first = True
        while True:
            size = int((await reader.readline()).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            data = await reader.readexactly(size + 2)
            if first and _CONTENT.search(data):
                ttft.append((time.perf_counter() - t0) * 1000)
                first = False
    elif length:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str, port: int, request: bytes, deadline: float, count: list[int], total: int, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and count[0] < total:
            count[0] += 1
            t0 = time.perf_counter()
            writer.write(request)
            try:
                status = await _read_response(reader, t0, result.ttft_ms)
            except (ConnectionError, asyncio.IncompleteReadError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            if status == 200:
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                result.errors += 1
    finally:
        writer.close()


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 POST with keep-alive."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_load(
    host: str, port: int, request: bytes, *, concurrency: int, requests: int, max_seconds: float = 60.0
) -> LoadResult:
    """Send ``requests`` requests over ``concurrency`` keep-alive connections."""
    result = LoadResult()
    count = [0]
    t0 = time.perf_counter()
    deadline = t0 + max_seconds
    await asyncio.gather(
        *(_worker(host, port, request, deadline, count, requests, result) for _ in range(concurrency))
    )
    result.wall_s = time.perf_counter() - t0
    return result
