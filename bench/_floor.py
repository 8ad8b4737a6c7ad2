"""The floor of a Python gateway on this server stack: a bare ASGI proxy, nothing else.

It reads the body, parses the JSON, forwards it with the same HTTP client runwell uses (one pooled
aiohttp session), and returns the upstream's answer: no auth, no records, no audit, no streaming
logic. Served by uvicorn with uvloop and httptools, as ``runwell serve`` is. ``bench/gateway.py``
measures it in the same run as runwell, so runwell's cost is read against the physical limit.

    python bench/_floor.py --port 8002 --upstream http://127.0.0.1:8001/v1/chat/completions
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import orjson
import uvicorn


class FloorProxy:
    """ASGI app: POST anything → the upstream URL, answer passed back."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.session = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=4.0)
                    )
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.session is not None:
                        await self.session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = orjson.loads(b"".join(chunks))
        assert self.session is not None
        async with self.session.post(
            self.upstream, data=orjson.dumps(body), headers={"Content-Type": "application/json"}
        ) as resp:
            answer = await resp.read()
            status = resp.status
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvicorn.run(
        FloorProxy(args.upstream),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
