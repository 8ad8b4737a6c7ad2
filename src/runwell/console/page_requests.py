"""The request list: searchable by feature, variant, status, outcome, user and id; newest first,
paged by keyset so any page is as fast as the first."""

from __future__ import annotations

import re

from runwell.console.html import Child, badge, el, fmt_ms, fmt_time, fmt_usd, join, layout, table
from runwell.console.queries import RequestFilter, list_requests
from runwell.console.view import Response, View, html_response

__all__ = ["parse_filter", "render_list"]

_HEX = re.compile(r"^[0-9a-f]{1,64}$")
_OUTCOMES = ("", "served", "fallback", "degraded", "blocked", "error", "shadow")
_STATUSES = ("", "ok", "error")


def parse_filter(view: View) -> RequestFilter:
    """The filter the query string asks for (unknown values are ignored, not errors)."""
    q = view.query
    features = view.sources.features
    feature = q.get("feature") or None
    prefix = (q.get("id") or "").strip().lower() or None
    return RequestFilter(
        feature=feature if feature in features else None,
        variant=(q.get("variant") or "").strip() or None,
        status=q.get("status") if q.get("status") in _STATUSES[1:] else None,
        outcome=q.get("outcome") if q.get("outcome") in _OUTCOMES[1:] else None,
        user=(q.get("user") or "").strip() or None,
        id_prefix=prefix if prefix and _HEX.match(prefix) else None,
    )


def _cursor(text: str | None) -> tuple[float, str] | None:
    if not text or ":" not in text:
        return None
    at, _, rid = text.partition(":")
    try:
        return float(at), rid
    except ValueError:
        return None


def _filters(view: View, where: RequestFilter) -> Child:
    def select(name: str, label: str, options: tuple[str, ...], current: str | None) -> Child:
        return el(
            "label",
            label,
            el(
                "select",
                [el("option", o or "any", value=o, selected=(current or "") == o) for o in options],
                name=name,
            ),
        )

    def text(name: str, label: str, current: str | None, hint: str) -> Child:
        return el(
            "label", label, el("input", type="search", name=name, value=current or "", placeholder=hint)
        )

    return el(
        "form",
        select("feature", "Feature", ("", *view.sources.features), where.feature),
        text("variant", "Variant", where.variant, "any"),
        select("status", "Status", _STATUSES, where.status),
        select("outcome", "Outcome", _OUTCOMES, where.outcome),
        text("user", "User", where.user, "user id"),
        text("id", "Request id starts with", where.id_prefix, "hex"),
        el("button", "Search", type="submit"),
        method="get",
        action="/console/requests",
        class_="filters",
        role="search",
    )


def _status(status: str, http: int) -> Child:
    return badge(f"{status} {http}", "ok" if status == "ok" else "bad")


async def render_list(view: View) -> Response:
    """``GET /console/requests``."""
    where = parse_filter(view)
    before = _cursor(view.query.get("before"))
    page = await view.run(lambda: list_requests(view.sources.store.db, where, before=before))
    rows = [
        [
            fmt_time(r.started_at),
            el(
                "a",
                r.request_id[:12],
                href=f"/console/requests/{r.request_id}",
                aria_label=f"request {r.request_id}",
            ),
            r.feature or "—",
            (r.variant or "—") + (f" → {r.served_by}" if r.served_by and r.served_by != r.variant else ""),
            _status(r.status, r.http_status),
            r.outcome or "—",
            r.user_id or "—",
            fmt_ms(r.latency_ms),
            fmt_usd(r.cost_usd) if r.cost_usd is not None or r.status == "ok" else "—",
        ]
        for r in page.rows
    ]
    pager = []
    if before is not None:
        pager.append(el("a", "Newest", href=view.link("/console/requests", **where.as_query())))
    if page.next_cursor is not None:
        at, rid = page.next_cursor
        pager.append(
            el(
                "a",
                "Older →",
                href=view.link("/console/requests", **where.as_query(), before=f"{at!r}:{rid}"),
            )
        )
    body = join(
        _filters(view, where),
        table(
            f"{len(page.rows)} requests, newest first",
            [
                "time (UTC)",
                "request",
                "feature",
                "variant → served by",
                "status",
                "outcome",
                "user",
                "latency",
                "cost",
            ],
            rows,
            numeric=(7, 8),
        ),
        el("nav", pager, class_="pager", aria_label="Pages"),
    )
    return html_response(layout("Requests", body, view.frame("requests")))
