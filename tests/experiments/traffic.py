"""Drive a real gateway with the official openai SDK, and read its rollout state over the admin API."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import openai

from tests.gateway.conftest import ADMIN_TOKEN, Gateway


@dataclass(frozen=True)
class Answer:
    """What the client saw."""

    request_id: str | None
    variant: str | None
    status: int
    content: str | None
    user: str


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=20)


def ask(sdk: openai.OpenAI, feature: str, user: str, text: str) -> Answer:
    try:
        raw = sdk.chat.completions.with_raw_response.create(
            model=feature, messages=[{"role": "user", "content": text}], user=user
        )
    except openai.APIStatusError as exc:
        headers = exc.response.headers
        return Answer(
            headers.get("x-request-id"), headers.get("x-runwell-variant"), exc.status_code, None, user
        )
    completion = raw.parse()
    return Answer(
        raw.headers.get("x-request-id"),
        raw.headers.get("x-runwell-variant"),
        raw.http_response.status_code,
        completion.choices[0].message.content,
        user,
    )


def drive(
    gw: Gateway,
    feature: str,
    *,
    seconds: float,
    stop: Callable[[], bool] = lambda: False,
    texts: Sequence[str] = ("Where is my refund for order A-100?",),
    users: int = 400,
    threads: int = 4,
    after: Callable[[Answer], None] | None = None,
) -> list[Answer]:
    """Send requests from ``threads`` clients until ``seconds`` pass or ``stop()`` says so."""
    sdk = client(gw)
    counter = itertools.count()
    answers: list[Answer] = []
    deadline = time.monotonic() + seconds

    def one(i: int) -> Answer:
        answer = ask(sdk, feature, f"user-{i % users}", texts[i % len(texts)])
        if after is not None:
            after(answer)
        return answer

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        while time.monotonic() < deadline and not stop():
            answers.extend(pool.map(one, [next(counter) for _ in range(threads * 4)]))
    return answers


def admin(gw: Gateway, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{gw.url}{path}",
        data=data,
        method=method,
        headers={"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def state(gw: Gateway, feature: str) -> dict[str, Any]:
    status, body = admin(gw, "GET", f"/admin/rollouts/{feature}")
    assert status == 200, body
    return dict(body)


def post(gw: Gateway, path: str, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    """POST with a client key (``key``, default the gateway's)."""
    request = urllib.request.Request(
        f"{gw.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"authorization": f"Bearer {key or gw.key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
