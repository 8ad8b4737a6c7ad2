"""The mock upstream's command line, as the gateway benchmark runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

import orjson


def test_cli_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwell.testing.mock_upstream", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("mock upstream listening on http://127.0.0.1:")
        root = line.rsplit(" ", 1)[1].strip()
        body = orjson.dumps({"model": "mock-echo", "messages": [{"role": "user", "content": "ping"}]})
        post = urllib.request.Request(
            f"{root}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(post, timeout=5) as resp:
            answer = orjson.loads(resp.read())
        assert answer["choices"][0]["message"]["content"] == "ping"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
