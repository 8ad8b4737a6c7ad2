"""Parse and validate an OpenAI chat-completions request body.

Hand-written rather than a pydantic model because it runs on every request: a few type checks
cost microseconds, and each failure names the exact field (``messages[2].content``) the client
must fix. Unknown top-level fields are rejected, as OpenAI itself does, so a typo such as
``max_token`` is reported instead of silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from runwell.errors import RequestError

__all__ = ["MAX_DEPTH", "ChatBody", "parse_chat_body", "parse_model_name"]

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted anywhere in a request body."""
_MAX_SAFE_INT = 2**53 - 1

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})

# Generation parameters forwarded to the provider, with their checks.
_NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens")
# Accepted and forwarded as-is (their shape is the upstream's business).
_PASSTHROUGH = frozenset(
    {
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "seed",
        "metadata",
        "store",
        "service_tier",
        "reasoning_effort",
    }
)
_CONTROL = frozenset({"model", "messages", "stream", "stream_options", "user", "variables", "n", "stop"})
_KNOWN = _CONTROL | _PASSTHROUGH | frozenset(_NUMBER_RANGES) | frozenset(_POSITIVE_INTS)


@dataclass(slots=True)
class ChatBody:
    """A validated chat request, before the feature's prompt template is applied."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    stream: bool
    include_usage: bool
    user: str | None
    variables: dict[str, str]


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def parse_model_name(model: str) -> tuple[str, str | None]:
    """Split ``feature`` or ``feature@variant`` into its parts."""
    feature, sep, variant = model.partition("@")
    if not feature or (sep and not variant):
        raise RequestError(
            f"model {model!r} is not a feature name; use 'FEATURE' or 'FEATURE@VARIANT' "
            "(GET /v1/models lists them)",
            param="model",
            code="model_not_found",
        )
    return feature, (variant or None)


def _check_content(content: Any, where: str, role: str) -> None:
    if type(content) is str:
        return
    if content is None:
        if role == "assistant":
            return
        raise RequestError(f"{where}.content is required for role {role!r}", param=f"{where}.content")
    if type(content) is list:
        for j, part in enumerate(content):
            if type(part) is not dict or type(part.get("type")) is not str:
                raise RequestError(
                    f"{where}.content[{j}] must be an object with a string 'type'",
                    param=f"{where}.content[{j}]",
                )
            if part["type"] == "text" and type(part.get("text")) is not str:
                raise RequestError(
                    f"{where}.content[{j}].text must be a string", param=f"{where}.content[{j}].text"
                )
        return
    raise RequestError(
        f"{where}.content must be a string or a list of content parts, got {_type_name(content)}",
        param=f"{where}.content",
    )


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if type(messages) is not list:
        raise RequestError(
            f"'messages' must be a list of message objects, got {_type_name(messages)}",
            param="messages",
        )
    if not messages:
        raise RequestError("'messages' must contain at least one message", param="messages")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if type(message) is not dict:
            raise RequestError(f"{where} must be an object, got {_type_name(message)}", param=where)
        role = message.get("role")
        if type(role) is not str or role not in _ROLES:
            shown = repr(role) if type(role) is str else _type_name(role)
            raise RequestError(
                f"{where}.role must be one of {sorted(_ROLES)}, got {shown}", param=f"{where}.role"
            )
        calls = message.get("tool_calls")
        if role == "assistant" and calls is not None:
            _check_tool_calls(calls, f"{where}.tool_calls")
        else:
            _check_content(message.get("content"), where, role)
        if role == "tool" and type(message.get("tool_call_id")) is not str:
            raise RequestError(
                f"{where}.tool_call_id must be the id of the tool call this message answers",
                param=f"{where}.tool_call_id",
            )
    return messages


def _check_tool_calls(calls: Any, where: str) -> None:
    if type(calls) is not list:
        raise RequestError(f"{where} must be a list of tool calls, got {_type_name(calls)}", param=where)
    for j, call in enumerate(calls):
        at = f"{where}[{j}]"
        function = call.get("function") if type(call) is dict else None
        if type(call) is not dict or type(call.get("id")) is not str or type(function) is not dict:
            raise RequestError(f"{at} must be an object with a string 'id' and a 'function' object", param=at)
        if type(function.get("name")) is not str or type(function.get("arguments", "")) is not str:
            raise RequestError(
                f"{at}.function needs a string 'name' and 'arguments' (a JSON string)", param=f"{at}.function"
            )


def _safe_tree(body: dict[str, Any]) -> bool:
    """Fast check of :func:`_check_tree`'s rules without building paths (the common, clean case)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        container, depth = stack.pop()
        items = container.values() if type(container) is dict else container
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                if depth >= MAX_DEPTH:
                    return False
                stack.append((item, depth + 1))
            elif kind is int and not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
    return True


def _check_tree(value: Any, depth: int = 0) -> None:
    """Every nested value is within JSON's safe limits; raises _Unsafe with the path on the way out.

    The body was parsed by orjson, which reads 1024 levels of nesting; but nothing deeper than
    :data:`MAX_DEPTH` can be written back out (request records, audit digests), and integers past
    2**53 cannot be canonicalised for the audit log (RFC 8785 numbers are IEEE doubles).
    """
    kind = type(value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            raise _Unsafe(f"nested deeper than {MAX_DEPTH} levels")
        for key, item in value.items():
            try:
                _check_tree(item, depth + 1)
            except _Unsafe as exc:
                exc.path.insert(0, f".{key}")
                raise
    elif kind is list:
        if depth >= MAX_DEPTH:
            raise _Unsafe(f"nested deeper than {MAX_DEPTH} levels")
        for i, item in enumerate(value):
            try:
                _check_tree(item, depth + 1)
            except _Unsafe as exc:
                exc.path.insert(0, f"[{i}]")
                raise
    elif kind is int and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        raise _Unsafe(f"the integer {value} is beyond ±2**53 (use a string for ids this large)")


class _Unsafe(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


def _check_params(body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, (low, high) in _NUMBER_RANGES.items():
        if name in body and body[name] is not None:
            value = body[name]
            if not _is_number(value) or not low <= value <= high:
                raise RequestError(
                    f"'{name}' must be a number from {low:g} to {high:g}, got {value!r}", param=name
                )
            params[name] = value
    for name in _POSITIVE_INTS:
        if name in body and body[name] is not None:
            value = body[name]
            if type(value) is not int or value < 1:
                raise RequestError(f"'{name}' must be an integer >= 1, got {value!r}", param=name)
            params[name] = value
    stop = body.get("stop")
    if stop is not None:
        if type(stop) is str:
            stop = [stop]
        if type(stop) is not list or not all(type(s) is str for s in stop) or len(stop) > 4:
            raise RequestError("'stop' must be a string or a list of up to 4 strings", param="stop")
        params["stop"] = stop
    seed = body.get("seed")
    if seed is not None and type(seed) is not int:
        raise RequestError(f"'seed' must be an integer, got {_type_name(seed)}", param="seed")
    for name in _PASSTHROUGH:
        if name in body and body[name] is not None:
            params[name] = body[name]
    return params


def _check_variables(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if type(raw) is not dict:
        raise RequestError(
            f"'variables' must be an object of template variables, got {_type_name(raw)}",
            param="variables",
        )
    out: dict[str, str] = {}
    for key, value in raw.items():
        if type(value) is str:
            out[key] = value
        elif _is_number(value):
            out[key] = str(value)
        else:
            raise RequestError(
                f"variables.{key} must be a string or number, got {_type_name(value)}",
                param=f"variables.{key}",
            )
    return out


def parse_chat_body(raw: bytes) -> ChatBody:
    """Decode and validate a request body; raise :class:`RequestError` naming the bad field."""
    if not raw:
        raise RequestError("request body is empty; send a JSON chat-completions request")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from None
    if type(body) is not dict:
        raise RequestError(f"request body must be a JSON object, got {_type_name(body)}")
    try:
        if not _safe_tree(body):
            _check_tree(body)  # slower, only to say where the problem is
    except _Unsafe as exc:
        # The field the client sent, then at most a few levels into it: enough to find it.
        where = "".join(exc.path[:4]).lstrip(".") + ("..." if len(exc.path) > 4 else "")
        raise RequestError(f"{where}: {exc.problem}", param=where, code="invalid_value") from None
    unknown = [k for k in body if k not in _KNOWN]
    if unknown:
        raise RequestError(
            f"unrecognized request field(s): {', '.join(sorted(unknown))}", param=sorted(unknown)[0]
        )
    model = body.get("model")
    if type(model) is not str or not model:
        raise RequestError(
            f"'model' must be a non-empty string naming a feature, got {_type_name(model)}",
            param="model",
        )
    messages = _check_messages(body.get("messages"))
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if type(stream) is not bool:
        raise RequestError(f"'stream' must be a boolean, got {_type_name(stream)}", param="stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if type(options) is not dict:
            raise RequestError("'stream_options' must be an object", param="stream_options")
        include_usage = options.get("include_usage") is True
    n = body.get("n")
    if n is not None and n != 1:
        raise RequestError("only n=1 is supported; send one request per completion", param="n")
    user = body.get("user")
    if user is not None and type(user) is not str:
        raise RequestError(f"'user' must be a string, got {_type_name(user)}", param="user")
    return ChatBody(
        model=model,
        messages=messages,
        params=_check_params(body),
        stream=stream,
        include_usage=include_usage,
        user=user,
        variables=_check_variables(body.get("variables")),
    )
