"""What a page handler gets (:class:`View`: the sources, the visitor, the request) and returns
(:class:`Response`), and what the console reads from (:class:`ConsoleSources`).

The same :class:`ConsoleSources` is built by the gateway (``/console`` inside ``runwell serve``)
and by ``runwell console`` (standalone, over the database alone), so both show the same pages
from the same store and audit code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlencode

from runwell.console.html import PageFrame, Safe
from runwell.console.queries import SpendCache
from runwell.console.sessions import Session

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Store

__all__ = ["ConsoleSources", "Response", "RolloutControl", "View", "html_response", "redirect"]

T = TypeVar("T")


class RolloutControl(Protocol):
    """Pausing and aborting a feature's rollout, as the experiment layer does it (audited)."""

    def pause(self, feature: str, *, actor: str, reason: str) -> bool:
        """Pause the feature's running rollout; returns whether anything changed."""
        ...

    def abort(self, feature: str, *, actor: str, reason: str) -> bool:
        """Abort the feature's rollout (its baseline serves everyone); returns whether it changed."""
        ...


@dataclass
class ConsoleSources:
    """Everything the console reads from and acts through.

    ``specs`` are the features' specs (``None`` for a feature known only from the database: its
    capture setting is then unknown and content is shown to the admin only). ``refresh_levers``
    makes a lever change take effect at once on this process (the gateway's lever cache);
    ``breakers`` returns the live circuit breakers (gateway only); ``rollouts`` pauses and aborts
    rollouts (the experiment layer, when present).
    """

    store: Store
    log: AuditLog
    specs: Mapping[str, LoadedSpec | None]
    refresh_levers: Callable[[], object] | None = None
    breakers: Callable[[], list[dict[str, Any]]] | None = None
    rollouts: RolloutControl | None = None
    clock: Callable[[], float] = time.time
    where: str = "gateway"
    """``gateway`` (inside ``runwell serve``) or ``standalone`` (``runwell console``)."""
    spend: SpendCache = field(default_factory=SpendCache)

    @property
    def features(self) -> list[str]:
        """Every feature the console shows, sorted."""
        return sorted(self.specs)


@dataclass
class Response:
    """A whole HTTP response."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def html_response(page: Safe, status: int = 200) -> Response:
    """An HTML page."""
    return Response(status, page.encode("utf-8"))


def redirect(location: str, *, status: int = 303) -> Response:
    """A redirect (303 after a form, so a reload does not post again)."""
    return Response(status, b"", "text/plain; charset=utf-8", [(b"location", location.encode())])


@dataclass
class View:
    """One request to a console page: who asks, what they asked, and where to read from."""

    sources: ConsoleSources
    session: Session
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    nonce: str
    now: float
    viewer_sees_content: bool = False
    notices: list[tuple[str, str]] = field(default_factory=list)

    def may_see_content(self, feature: str | None) -> bool:
        """Whether this visitor may read ``feature``'s captured prompts and completions.

        The spec's capture setting holds for everyone (off: nobody, even for content stored
        under an older spec); the admin sees it when capture is on or the spec is not loaded; a
        viewer only when ``RUNWELL_CONSOLE_VIEWER_CONTENT`` is on and the spec says capture is on.
        """
        capture = self.capture_on(feature)
        if capture is False:
            return False
        if self.is_admin:
            return True
        return self.viewer_sees_content and capture is True

    @property
    def is_admin(self) -> bool:
        """Whether the visitor may pull levers and see any captured content."""
        return self.session.is_admin

    def frame(self, section: str) -> PageFrame:
        """The page frame for ``section``."""
        return PageFrame(self.session.role, self.session.csrf, self.nonce, section, tuple(self.notices))

    def feature(self) -> str | None:
        """The feature the visitor picked (``?feature=``), else the first one."""
        wanted = self.query.get("feature")
        features = self.sources.features
        if wanted in features:
            return wanted
        return features[0] if features else None

    def capture_on(self, feature: str | None) -> bool | None:
        """The spec's capture setting for ``feature``: ``None`` when the spec is not loaded."""
        loaded = self.sources.specs.get(feature) if feature else None
        return None if loaded is None else loaded.spec.capture.content

    async def run(self, work: Callable[[], T]) -> T:
        """Run blocking store or audit work in a worker thread (never on the event loop)."""
        return await asyncio.to_thread(work)

    def link(self, path: str, **params: str | None) -> str:
        """``path`` with the non-empty ``params`` as its query string."""
        given = {k: v for k, v in params.items() if v}
        return path + ("?" + urlencode(given) if given else "")
