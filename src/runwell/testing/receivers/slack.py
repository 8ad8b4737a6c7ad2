"""A checking stand-in for a Slack incoming webhook: JSON with ``text`` and/or ``blocks``, Block Kit
limits enforced, ``ok`` on success (Slack's plain-text error words otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from runwell.testing.receivers._base import Answer, HttpReceiver, is_str, parse_body

__all__ = ["SlackReceiver", "check_slack_message"]

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


def _text_object(obj: Any, where: str, max_len: int, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where} must be a text object of type {' or '.join(kinds)}"]
    if not is_str(obj.get("text"), max_len=max_len):
        return [f"{where}.text must be a non-empty string of at most {max_len} characters"]
    return []


def check_slack_message(msg: Any) -> list[str]:
    """Every way ``msg`` breaks the incoming-webhook format or Block Kit's limits."""
    if not isinstance(msg, dict):
        return ["invalid_payload: the body is not a JSON object"]
    text, blocks = msg.get("text"), msg.get("blocks")
    if text is None and blocks is None:
        return ["no_text: the message has neither text nor blocks"]
    errors = [] if text is None or isinstance(text, str) else ["invalid_payload: text must be a string"]
    if blocks is None:
        return errors
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*errors, "invalid_blocks: blocks must be a list of at most 50 blocks"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in _BLOCK_TYPES:
            errors.append(f"invalid_blocks: {where} has unknown type {kind!r}")
        elif kind == "header":
            errors += _text_object(block.get("text"), f"{where}.text", 150, ("plain_text",))
        elif kind == "section":
            fields = block.get("fields")
            if "text" not in block and not fields:
                errors.append(f"invalid_blocks: {where} needs text or fields")
            if "text" in block:
                errors += _text_object(block["text"], f"{where}.text", 3000, ("plain_text", "mrkdwn"))
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    errors.append(f"invalid_blocks: {where}.fields must hold 1 to 10 text objects")
                else:
                    for j, f in enumerate(fields):
                        errors += _text_object(f, f"{where}.fields[{j}]", 2000, ("plain_text", "mrkdwn"))
        elif kind == "actions":
            errors += _check_actions(block.get("elements"), where)
    return errors


def _check_actions(elements: Any, where: str) -> list[str]:
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        return [f"invalid_blocks: {where}.elements must hold 1 to 25 elements"]
    errors = []
    for j, el in enumerate(elements):
        if not isinstance(el, dict) or el.get("type") != "button":
            continue
        errors += _text_object(el.get("text"), f"{where}.elements[{j}].text", 75, ("plain_text",))
        url = el.get("url")
        if url is not None and not (is_str(url, max_len=3000) and url.startswith(("https://", "http://"))):
            errors.append(f"invalid_blocks: {where}.elements[{j}].url must be an http(s) URL of at most 3000")
    return errors


class SlackReceiver(HttpReceiver):
    """A checking stand-in for a Slack incoming webhook."""

    channel = "slack"

    @property
    def url(self) -> str:
        """A webhook URL of Slack's shape to configure the notifier with."""
        return f"{self.root_url}/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    def routes(self) -> list[web.RouteDef]:
        """``POST /services/{T}/{B}/{X}``."""
        return [web.post("/services/{team}/{bot}/{token}", self._handle)]

    def fault_body(self, status: int) -> tuple[bytes, str]:
        """Slack's plain-text error words."""
        return (b"rate_limited" if status == 429 else b"internal_error"), "text/plain"

    def answer(self, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """``ok``, or 400 with Slack's error word."""
        errors = check_slack_message(parse_body(raw))
        if errors:
            return Answer(400, errors[0].split(":", 1)[0].encode(), "text/plain", problems=tuple(errors))
        return Answer(200, b"ok", "text/plain")
