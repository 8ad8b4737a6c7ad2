"""How the mock upstream answers a chat request: the script a ``mock-*`` model name selects, and
the reply (text words or tool calls) built from the request body. Pure functions, no I/O; the
server in :mod:`runwell.testing.mock_upstream` turns a reply into each API's wire format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

DEFAULT_ANSWER = "Hello from the mock upstream."
TOOL_PREAMBLE = "Let me check."  # Anthropic models usually say something before calling tools
ARGUMENT_PIECE = 7  # characters of tool-call arguments per streamed delta
PIECES = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True, slots=True)
class Script:
    # text | echo | error | cut | malformed | incomplete | stream-error | tools | logprobs
    kind: str = "text"
    delay_s: float = 0.0
    stall_s: float = 0.0
    status: int = 200
    retry_after: int | None = None
    failures: int = 0


PLAIN = Script()


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call of a ``mock-tools`` answer; ``arguments`` is ``input`` as JSON text."""

    index: int
    name: str
    input: dict[str, Any]
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What a chat request is answered with: text ``words`` or tool ``calls``."""

    body: dict[str, Any]
    script: Script
    words: list[str]
    finish: str  # stop | length | tool_calls
    calls: list[Call]


def pick_script(model: Any) -> Script:
    if not isinstance(model, str) or not model.startswith("mock-"):
        return PLAIN
    rest = model[5:]
    if rest in ("echo", "cut", "malformed", "incomplete", "stream-error", "tools", "logprobs", "json", "pii"):
        return Script(kind=rest)
    name, _, arg = rest.partition("-")
    try:
        if name == "slow":
            return Script(delay_s=float(arg) / 1000)
        if name == "stall":
            return Script(stall_s=float(arg) / 1000)
        if name == "flaky":
            return Script(kind="flaky", failures=int(arg))
        if name == "error":
            status, _, retry = arg.partition("-retry-")
            return Script(kind="error", status=int(status), retry_after=int(retry) if retry else None)
    except ValueError:
        pass
    return PLAIN


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def build_reply(body: dict[str, Any], script: Script, *, anthropic: bool) -> Reply:
    messages = body["messages"]
    if script.kind == "tools":
        results = tool_results(messages, anthropic=anthropic)
        if results is not None:
            words = PIECES.findall("Tool results: " + "; ".join(results))
            return Reply(body, script, words, "stop", [])
        calls = tool_calls_of(body, anthropic=anthropic)
        if calls:
            return Reply(body, script, [], "tool_calls", calls)
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return Reply(body, script, *answer_words(script, user, body), [])


def tool_results(messages: list[Any], *, anthropic: bool) -> list[str] | None:
    """The tool results that end the conversation, or None when it does not end with any."""
    if not messages or not isinstance(messages[-1], dict):
        return None
    if anthropic:
        content = messages[-1].get("content")
        if messages[-1].get("role") != "user" or not isinstance(content, list):
            return None
        results = [
            text_of(b.get("content"))
            for b in content
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        return results or None
    results = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        results.append(text_of(message.get("content")))
    return results[::-1] or None


def tool_calls_of(body: dict[str, Any], *, anthropic: bool) -> list[Call]:
    """The calls ``mock-tools`` makes (see the module docstring); empty to answer text."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return []
    choice = body.get("tool_choice")
    if anthropic:
        names = [t.get("name") for t in tools]
        kind = choice.get("type") if isinstance(choice, dict) else None
        forced = choice.get("name") if isinstance(choice, dict) and kind == "tool" else None
        single = isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True
    else:
        names = [(t.get("function") or {}).get("name") for t in tools]
        kind = choice if isinstance(choice, str) else None
        forced = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
        single = body.get("parallel_tool_calls") is False
    if kind == "none":
        return []
    chosen = [forced] if forced else (names * 2)[: 1 if single else 2]
    # tool_result blocks have no text: the query is the last user message that says something
    said = [
        text_of(m.get("content")) for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"
    ]
    query = next((text for text in reversed(said) if text), "")
    calls = []
    for index, name in enumerate(chosen):
        arguments = {"query": query, "call": index}
        calls.append(Call(index, str(name), arguments, orjson.dumps(arguments).decode()))
    return calls


def split_words(text: str) -> list[str]:
    return [text[at : at + ARGUMENT_PIECE] for at in range(0, len(text), ARGUMENT_PIECE)]


def logprobs_of(words: list[str], body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """One OpenAI ``logprobs.content`` entry per word (token ``i`` has logprob ``-(i+1)/8``), with
    ``top_logprobs`` alternatives: the word itself, then ``<word>~<k>`` at ``k`` less each."""
    if body.get("logprobs") is not True:
        return None
    top = body.get("top_logprobs") or 0
    entries = []
    for i, word in enumerate(words):
        logprob = -0.125 * (i + 1)
        alternatives = [word, *(f"{word}~{k}" for k in range(1, top))] if top else []
        entries.append(
            {
                "token": word,
                "logprob": logprob,
                "bytes": list(word.encode()),
                "top_logprobs": [
                    {"token": alt, "logprob": logprob - k, "bytes": list(alt.encode())}
                    for k, alt in enumerate(alternatives)
                ],
            }
        )
    return entries


def answer_words(script: Script, user: list[Any], body: dict[str, Any]) -> tuple[list[str], str]:
    text = text_of(user[-1].get("content")) if script.kind == "echo" and user else DEFAULT_ANSWER
    if script.kind == "json" and any("JSON" in text_of(m.get("content")) for m in body["messages"]):
        text = orjson.dumps({"answer": text_of(user[-1].get("content")) if user else ""}).decode()
        return [text], "stop"
    if script.kind == "pii":
        text = "Write to jane.doe@example.com or pay with card 4111 1111 1111 1111."
    words = PIECES.findall(text)
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(limit, int) and 0 < limit < len(words):
        return words[:limit], "length"
    return words, "stop"


def count_words(messages: list[Any]) -> int:
    return sum(len(text_of(m.get("content")).split()) for m in messages if isinstance(m, dict))
