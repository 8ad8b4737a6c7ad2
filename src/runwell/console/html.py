"""Building HTML safely: every string is escaped unless it is already :class:`Safe` markup.

Pages are built with :func:`el` (one element, attributes and children escaped) rather than by
pasting strings into templates, so a prompt, a user id or a reason holding ``<script>`` is shown as
text, never run. :func:`layout` wraps a page's body in the console's accessible frame: a skip link,
one navigation landmark, the main landmark, the inline stylesheet.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from runwell.console.theme import CSS

__all__ = [
    "NAV",
    "Child",
    "PageFrame",
    "Safe",
    "badge",
    "csrf_field",
    "el",
    "esc",
    "fmt_ago",
    "fmt_ms",
    "fmt_num",
    "fmt_time",
    "fmt_usd",
    "join",
    "kv",
    "layout",
    "table",
]


class Safe(str):
    """A string of markup that is already escaped (or built by :func:`el`)."""

    __slots__ = ()


Child = str | int | float | None | Sequence["Child"]
"""What :func:`el` accepts as content: text (escaped), markup, numbers, nothing, or lists of those."""

_VOID = frozenset({"input", "br", "meta", "hr", "img", "col", "source"})


def esc(value: object) -> Safe:
    """``value`` as text, escaped for HTML content and attributes."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


def _children(children: Iterable[Child], out: list[str]) -> None:
    for child in children:
        if child is None:
            continue
        if isinstance(child, Safe):
            out.append(child)
        elif isinstance(child, str | int | float):
            out.append(esc(child))
        else:
            _children(child, out)


def join(*children: Child) -> Safe:
    """Several children as one piece of markup."""
    out: list[str] = []
    _children(children, out)
    return Safe("".join(out))


def el(name: str, /, *children: Child, **attrs: str | int | float | bool | None) -> Safe:
    """One element. Attribute names: a trailing ``_`` is dropped (``class_``), ``_`` becomes ``-``
    (``aria_label``); ``None``/``False`` leave the attribute out, ``True`` writes it bare."""
    parts = [name]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        parts.append(attr if value is True else f'{attr}="{esc(value)}"')
    opening = "<" + " ".join(parts) + ">"
    if name in _VOID:
        return Safe(opening)
    out: list[str] = [opening]
    _children(children, out)
    out.append(f"</{name}>")
    return Safe("".join(out))


def table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[Child]], *, numeric: Sequence[int] = ()
) -> Safe:
    """A data table with a caption (its accessible name) and column headers."""
    head = el(
        "tr",
        [el("th", h, scope="col", class_="num" if i in numeric else None) for i, h in enumerate(headers)],
    )
    body = [
        el("tr", [el("td", cell, class_="num" if i in numeric else None) for i, cell in enumerate(row)])
        for row in rows
    ]
    if not body:
        body = [el("tr", el("td", "nothing yet", colspan=len(headers), class_="muted"))]
    return el("table", el("caption", caption, class_="muted"), el("thead", head), el("tbody", body))


def kv(pairs: Iterable[tuple[str, Child]]) -> Safe:
    """A description list of label/value pairs."""
    return el("dl", [join(el("dt", k), el("dd", v)) for k, v in pairs], class_="kv")


def badge(text: str, tone: str) -> Safe:
    """A small coloured label; ``tone`` is ``ok``, ``bad``, ``warn`` or ``info``."""
    return el("span", text, class_=f"badge {tone}")


def csrf_field(token: str) -> Safe:
    """The hidden CSRF field every form carries."""
    return el("input", type="hidden", name="csrf", value=token)


# -- formatting ------------------------------------------------------------------------------


def fmt_time(ts: float | None) -> str:
    """An epoch time as ``2026-11-22 08:15:03Z`` (UTC: every operator reads the same time)."""
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def fmt_ago(ts: float | None, now: float) -> str:
    """How long ago (or from now) ``ts`` is, roughly."""
    if ts is None:
        return "—"
    delta = now - ts
    future = delta < 0
    delta = abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            text = f"{delta / size:.0f}{unit}"
            break
    else:
        text = f"{delta:.0f}s"
    return f"in {text}" if future else f"{text} ago"


def fmt_ms(value: float | None) -> str:
    """Milliseconds, or a dash."""
    return "—" if value is None else (f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms")


def fmt_usd(value: float | None) -> str:
    """Dollars with enough digits for per-request costs; ``unpriced`` for ``None``."""
    if value is None:
        return "unpriced"
    return f"${value:,.2f}" if value >= 1 else f"${value:.6f}".rstrip("0").rstrip(".")


def fmt_num(value: float | int | None, digits: int = 0) -> str:
    """A number with thousands separators, or a dash."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


# -- the frame -------------------------------------------------------------------------------

NAV: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("requests", "Requests"),
    ("evals", "Evals"),
    ("rollouts", "Rollouts"),
    ("operations", "Operations"),
    ("levers", "Levers"),
)
"""The sections, in navigation order (``levers`` shows for the admin only)."""


@dataclass(frozen=True)
class PageFrame:
    """What the frame around every page needs to know about the visitor."""

    role: str
    csrf: str
    nonce: str
    section: str = ""
    notices: Sequence[tuple[str, str]] = field(default_factory=tuple)


def _href(section: str) -> str:
    return "/console" if section == "overview" else f"/console/{section}"


def layout(title: str, body: Child, frame: PageFrame, *, script: str | None = None) -> Safe:
    """A whole page: the frame, ``body`` in ``<main>``, and an optional inline script (CSP nonce)."""
    signed_in = frame.role in ("viewer", "admin")
    links = [
        el(
            "li",
            el("a", label, href=_href(key), aria_current="page" if key == frame.section else None),
        )
        for key, label in NAV
        if key != "levers" or frame.role == "admin"
    ]
    who = None
    if signed_in:
        who = el(
            "div",
            el("span", f"signed in: {frame.role}"),
            el(
                "form",
                csrf_field(frame.csrf),
                el("button", "Sign out", type="submit", class_="link"),
                method="post",
                action="/console/logout",
                class_="inline",
            ),
            class_="who",
        )
    header = el(
        "header",
        el("a", "Skip to content", href="#main", class_="skip"),
        el("strong", "runwell console"),
        el("nav", el("ul", links), aria_label="Sections") if signed_in else None,
        who,
        class_="top",
    )
    notices = [el("p", text, class_=f"notice {tone}", role="status") for tone, text in frame.notices]
    scripts = el("script", Safe(script), nonce=frame.nonce) if script else None
    page = join(
        Safe("<!doctype html>"),
        el(
            "html",
            el(
                "head",
                el("meta", charset="utf-8"),
                el("meta", name="viewport", content="width=device-width, initial-scale=1"),
                el("meta", name="referrer", content="same-origin"),
                el("title", f"{title} · runwell console"),
                el("style", Safe(CSS), nonce=frame.nonce),
            ),
            el("body", header, el("main", el("h1", title), notices, body, id="main", tabindex="-1"), scripts),
            lang="en",
        ),
    )
    return page
