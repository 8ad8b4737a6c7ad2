"""The small HTML page a link in a page opens: the incident, its runbook, and one button.

Everything interpolated is HTML-escaped (titles and runbooks are data, not markup); the page loads
nothing from elsewhere and carries no script.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from runwell.operate.incidents import Incident

__all__ = ["incident_page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem;border-radius:6px}"
    "button{font-size:1.1rem;padding:.6rem 1.4rem}input{font-size:1rem;padding:.4rem;width:100%}"
)


def incident_page(
    incident: Incident, *, action: str, token: str, runbook_text: str | None, done: str | None = None
) -> str:
    """The page for ``action`` (``ack`` or ``resolve``) on ``incident``; ``done`` is the outcome
    message after the button was pressed."""
    e = html.escape
    opened = datetime.fromtimestamp(incident.opened_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    verb = "Acknowledge" if action == "ack" else "Resolve"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{e(incident.severity)} {e(incident.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(incident.severity)}: {e(incident.title)}</h1>",
        f"<p>Incident <code>{e(incident.id)}</code> on <b>{e(incident.feature)}</b>, opened {e(opened)}; "
        f"state <b>{e(incident.state)}</b>"
        + (f", acknowledged by {e(incident.acked_by)}" if incident.acked_by else "")
        + "</p>",
    ]
    if done is not None:
        parts.append(f"<p><b>{e(done)}</b></p>")
    elif incident.open:
        parts.append(f"<form method='post' action='?t={e(token)}'>")
        parts.append("<p><label>Your name <input name='actor' required></label></p>")
        if action == "resolve":
            parts.append("<p><label>What fixed it <input name='reason' required></label></p>")
        parts.append(f"<button type='submit'>{verb}</button></form>")
    parts.append(f"<h2>Runbook: {e(incident.runbook or 'none linked')}</h2>")
    if runbook_text:
        parts.append(f"<pre>{e(runbook_text)}</pre>")
    parts.append(
        f"<p>From a terminal: <code>runwell incident {'ack' if action == 'ack' else 'resolve'} "
        f"{e(incident.id)}</code></p></body></html>"
    )
    return "".join(parts)
