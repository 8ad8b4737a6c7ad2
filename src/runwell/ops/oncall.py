"""On-call rotations, escalation policies and the authors' handoff window: pure and clock-free.

Every function takes the moment it is asked about (a timezone-aware ``datetime``) instead of
reading a clock, so the same question always gets the same answer and tests pin any date.

The model follows PagerDuty's schedules and escalation policies (terraform-provider-pagerduty
``schedule`` and ``escalation_policy``):

* A :class:`Rotation` hands off every ``shift_days`` days at ``handoff`` local time in an IANA
  ``time_zone``, starting with ``members[0]`` on ``start``. Shifts are counted in *calendar
  days of that zone*, not in seconds, so a 09:00 handoff stays at 09:00 local on both sides of a
  daylight-saving change (that day's shift is 23 or 25 hours long). A handoff that falls in a
  spring-forward gap happens when the clocks have jumped (02:30 becomes 03:30); one that falls
  in a fall-back overlap happens at the first of the two moments. :class:`Override`\\s put
  someone else on call for a span; where overrides overlap, the one listed last wins.
* An :class:`EscalationPolicy` pages its levels in order, each ``delay_minutes`` after the
  previous one, until someone acknowledges; after the last level it starts over ``num_loops``
  more times. A level's targets are people or "whoever is on call in rotation R" at the moment
  the level is reached.
* A :class:`HandoffWindow` keeps a feature's original authors in the loop after it is handed to
  the operating rotation: for ``days`` days (90 by default) from the cutover, every page that
  reaches a rotation also reaches them.

All times returned are in the rotation's (or window's) own zone, for display; comparisons are
made in UTC, since Python compares two datetimes that share a ``tzinfo`` by wall time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runwell.errors import ConfigError

__all__ = [
    "EscalationLevel",
    "EscalationPolicy",
    "Handoff",
    "HandoffWindow",
    "OnCallOf",
    "OnCallSummary",
    "Override",
    "Page",
    "Person",
    "Rotation",
    "Shift",
    "Target",
    "who_is_on_call",
]


def _utc(at: datetime, what: str) -> datetime:
    if at.utcoffset() is None:
        raise ConfigError(
            f"{what} must be a timezone-aware datetime, got the naive {at.isoformat()}; attach a zone "
            "(e.g. datetime.now(UTC) or ZoneInfo('Europe/Paris'))"
        )
    return at.astimezone(UTC)


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: time zone {name!r} is not an IANA zone name (e.g. 'Europe/Paris', 'America/New_York', "
            "'UTC')"
        ) from None


@dataclass(frozen=True, slots=True)
class Override:
    """``member`` is on call from ``start`` (inclusive) to ``end`` (exclusive), whatever the
    rotation says; ``member`` need not belong to the rotation."""

    member: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.member.strip():
            raise ConfigError("an override needs the name of the member who covers")
        start = _utc(self.start, f"override for {self.member!r}: start")
        end = _utc(self.end, f"override for {self.member!r}: end")
        if end <= start:
            raise ConfigError(
                f"override for {self.member!r} ends ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()}); swap them"
            )
        # Kept in UTC: comparisons between datetimes sharing a zone ignore DST folds.
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def covers(self, at_utc: datetime) -> bool:
        """Whether ``at_utc`` falls within the override (``start`` and ``end`` are kept in UTC)."""
        return self.start <= at_utc < self.end


@dataclass(frozen=True, slots=True)
class Shift:
    """A span during which one person is on call; ``override`` when an override put them there."""

    member: str
    start: datetime
    end: datetime
    override: bool = False


@dataclass(frozen=True, slots=True)
class Handoff:
    """The next change of hands: ``member`` takes over at ``at``."""

    at: datetime
    member: str


@dataclass(frozen=True)
class Rotation:
    """An ordered list of people taking turns of ``shift_days`` days (1: daily, 7: weekly).

    ``start`` anchors the rotation: ``members[0]``'s first shift begins on that date at
    ``handoff`` (a naive local time of day) in ``time_zone``. Before that moment nobody is on
    call, unless an override says so.
    """

    name: str
    members: tuple[str, ...]
    start: date
    time_zone: str = "UTC"
    shift_days: int = 7
    handoff: time = time(9, 0)
    overrides: tuple[Override, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        where = f"rotation {self.name!r}"
        if not self.members:
            raise ConfigError(f"{where} has no members; list who takes turns")
        if any(not m.strip() for m in self.members):
            raise ConfigError(f"{where} has an empty member name")
        if self.shift_days < 1:
            raise ConfigError(
                f"{where}: shift_days must be at least 1 (1 daily, 7 weekly), got {self.shift_days}"
            )
        if self.handoff.tzinfo is not None:
            raise ConfigError(
                f"{where}: handoff is a local time of day in time_zone {self.time_zone!r}; give it "
                "without a tzinfo"
            )
        object.__setattr__(self, "_zone", _zone(self.time_zone, where))

    @property
    def zone(self) -> ZoneInfo:
        """The rotation's time zone."""
        return self._zone

    def with_override(self, override: Override) -> Rotation:
        """A copy of this rotation with ``override`` added on top of the existing ones."""
        return replace(self, overrides=(*self.overrides, override))

    def shift_start(self, k: int) -> datetime:
        """When scheduled shift ``k`` (0 is the first, ``members[0]``'s) begins, in the rotation's zone."""
        return self._boundary(k).astimezone(self._zone)

    def _boundary(self, k: int) -> datetime:
        day = self.start + timedelta(days=k * self.shift_days)
        # fold=0: a handoff in a fall-back overlap is the first of the two moments; one in a
        # spring-forward gap lands past the gap (the UTC offset from before the jump applies).
        return datetime.combine(day, self.handoff, tzinfo=self._zone).astimezone(UTC)

    def _index(self, at_utc: datetime) -> int:
        """The scheduled shift containing ``at_utc`` (negative before the rotation starts)."""
        local_day = at_utc.astimezone(self._zone).date()
        k = (local_day - self.start).days // self.shift_days
        if at_utc < self._boundary(k):
            k -= 1
        return k

    def _who(self, at_utc: datetime) -> tuple[str | None, bool]:
        for override in reversed(self.overrides):
            if override.covers(at_utc):
                return override.member, True
        k = self._index(at_utc)
        return (self.members[k % len(self.members)] if k >= 0 else None), False

    def scheduled(self, at: datetime) -> str | None:
        """Who the rotation itself puts on call at ``at``, ignoring overrides."""
        k = self._index(_utc(at, f"rotation {self.name!r}: at"))
        return self.members[k % len(self.members)] if k >= 0 else None

    def on_call(self, at: datetime) -> str | None:
        """Who is on call at ``at``, overrides included; ``None`` before the rotation starts."""
        return self._who(_utc(at, f"rotation {self.name!r}: at"))[0]

    def shifts(self, since: datetime, until: datetime) -> list[Shift]:
        """The on-call timeline from ``since`` to ``until``, overrides applied, consecutive spans
        of the same person (and kind) merged; spans with nobody on call are left out."""
        lo = _utc(since, f"rotation {self.name!r}: since")
        hi = _utc(until, f"rotation {self.name!r}: until")
        if hi <= lo:
            return []
        points = {lo}
        k = max(self._index(lo) + 1, 0)
        while (boundary := self._boundary(k)) < hi:
            if boundary > lo:
                points.add(boundary)
            k += 1
        for override in self.overrides:
            points.update(p for p in (override.start, override.end) if lo < p < hi)
        ordered = sorted(points)
        spans: list[tuple[str, datetime, datetime, bool]] = []
        for begin, end in zip(ordered, [*ordered[1:], hi], strict=True):
            member, is_override = self._who(begin)
            if member is None:
                continue
            if spans and spans[-1][0] == member and spans[-1][3] == is_override and spans[-1][2] == begin:
                spans[-1] = (member, spans[-1][1], end, is_override)
            else:
                spans.append((member, begin, end, is_override))
        zone = self._zone
        return [Shift(m, b.astimezone(zone), e.astimezone(zone), o) for m, b, e, o in spans]

    def next_handoff(self, at: datetime) -> Handoff | None:
        """The next moment after ``at`` when someone else goes on call, and who; ``None`` if nobody
        else ever will (a one-person rotation with no override ahead)."""
        at_utc = _utc(at, f"rotation {self.name!r}: at")
        current = self._who(at_utc)[0]
        horizon = max(at_utc, self._boundary(0)) + timedelta(days=self.shift_days * (len(self.members) + 1))
        for override in self.overrides:
            horizon = max(horizon, override.end + timedelta(seconds=1))
        for shift in self.shifts(at_utc, horizon):
            if shift.member != current and shift.start.astimezone(UTC) > at_utc:
                return Handoff(shift.start, shift.member)
        return None


@dataclass(frozen=True, slots=True)
class Person:
    """An escalation target: this person, always."""

    name: str


@dataclass(frozen=True, slots=True)
class OnCallOf:
    """An escalation target: whoever is on call in ``rotation`` when the level is reached."""

    rotation: Rotation


Target = Person | OnCallOf
"""Who an escalation level pages."""


@dataclass(frozen=True)
class EscalationLevel:
    """One rung of a policy: page ``targets``, then wait ``delay_minutes`` (or ``delay_s``, which
    wins when given: drills and tests escalate in seconds) for an acknowledgement before moving on
    to the next level."""

    targets: tuple[Target, ...]
    delay_minutes: int = 30
    delay_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        if not self.targets:
            raise ConfigError("an escalation level needs at least one target (a person or a rotation)")
        if self.delay_s is not None:
            if not self.delay_s > 0:
                raise ConfigError(f"escalation delay_s must be positive, got {self.delay_s}")
        elif self.delay_minutes < 1:
            # Zero would page every level at the same instant; put those targets in one level.
            raise ConfigError(f"escalation delay_minutes must be at least 1, got {self.delay_minutes}")

    @property
    def delay(self) -> timedelta:
        """How long this level waits for an acknowledgement."""
        if self.delay_s is not None:
            return timedelta(seconds=self.delay_s)
        return timedelta(minutes=self.delay_minutes)


@dataclass(frozen=True)
class HandoffWindow:
    """The first ``days`` days after a feature is handed from its authors (``owners``) to the
    operating rotation, counted in calendar days from ``cutover`` (midnight in ``time_zone``)."""

    cutover: date
    owners: tuple[str, ...]
    days: int = 90
    time_zone: str = "UTC"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "owners", tuple(self.owners))
        if not self.owners:
            raise ConfigError("a handoff window needs the owners (the feature's authors) to keep paging")
        if self.days < 0:
            raise ConfigError(f"handoff window days must be >= 0, got {self.days}")
        object.__setattr__(self, "_zone", _zone(self.time_zone, "handoff window"))

    @property
    def starts_at(self) -> datetime:
        """The cutover: midnight of ``cutover`` in ``time_zone``."""
        return datetime.combine(self.cutover, time(0), tzinfo=self._zone)

    @property
    def ends_at(self) -> datetime:
        """When the owners stop being paged: midnight ``days`` days after the cutover."""
        return datetime.combine(self.cutover + timedelta(days=self.days), time(0), tzinfo=self._zone)

    def active(self, at: datetime) -> bool:
        """Whether the owners are still paged at ``at``."""
        at_utc = _utc(at, "handoff window: at")
        return self.starts_at.astimezone(UTC) <= at_utc < self.ends_at.astimezone(UTC)

    def days_left(self, at: datetime) -> int:
        """Calendar days left in the window, today included (``days`` before the cutover, 0 after)."""
        local_day = _utc(at, "handoff window: at").astimezone(self._zone).date()
        end_day = self.cutover + timedelta(days=self.days)
        return max(0, min(self.days, (end_day - local_day).days))


@dataclass(frozen=True, slots=True)
class Page:
    """One escalation step that is due: who gets paged, and when it became due.

    ``step`` counts every step from 0 across loops; ``level`` and ``loop`` place it in the policy;
    ``due_at`` is in UTC.
    ``gaps`` names rotations that had nobody on call (the engine should say so loudly);
    ``handoff_owners`` are the people added by the handoff window (also in ``people``).
    """

    step: int
    level: int
    loop: int
    due_at: datetime
    people: tuple[str, ...]
    gaps: tuple[str, ...] = ()
    handoff_owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationPolicy:
    """Ordered levels, repeated ``num_loops`` more times after the last; see the module docstring."""

    name: str
    levels: tuple[EscalationLevel, ...]
    num_loops: int = 0
    handoff: HandoffWindow | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise ConfigError(f"escalation policy {self.name!r} has no levels")
        if self.num_loops < 0:
            raise ConfigError(
                f"escalation policy {self.name!r}: num_loops must be >= 0, got {self.num_loops}"
            )

    def _due_times(self, fired: datetime) -> list[datetime]:
        times, t = [], fired
        for _ in range(self.num_loops + 1):
            for level in self.levels:
                times.append(t)
                t += level.delay
        return times

    def pages(
        self, fired_at: datetime, at: datetime, *, acknowledged_at: datetime | None = None
    ) -> list[Page]:
        """Every page due from ``fired_at`` up to ``at``, in order.

        An acknowledgement stops the escalation: steps due at or after ``acknowledged_at`` are
        not paged (the first step always is: the alert fired). An engine calls this on each tick
        and sends the pages it has not sent yet.
        """
        fired = _utc(fired_at, f"escalation policy {self.name!r}: fired_at")
        now = _utc(at, f"escalation policy {self.name!r}: at")
        ack = _utc(acknowledged_at, "acknowledged_at") if acknowledged_at is not None else None
        pages = []
        for step, due in enumerate(self._due_times(fired)):
            if due > now or (step > 0 and ack is not None and due >= ack):
                break
            pages.append(self._page(step, due))
        return pages

    def next_escalation(
        self, fired_at: datetime, at: datetime, *, acknowledged_at: datetime | None = None
    ) -> datetime | None:
        """When the next step falls due after ``at`` (an engine's next wake-up), or ``None`` once
        acknowledged or when the policy is exhausted."""
        if acknowledged_at is not None and _utc(acknowledged_at, "acknowledged_at") <= _utc(at, "at"):
            return None
        fired = _utc(fired_at, f"escalation policy {self.name!r}: fired_at")
        times = self._due_times(fired)
        i = bisect.bisect_right(times, _utc(at, "at"))
        return times[i] if i < len(times) else None

    def _page(self, step: int, due: datetime) -> Page:
        level_index = step % len(self.levels)
        level = self.levels[level_index]
        people: list[str] = []
        gaps: list[str] = []
        reaches_rotation = False
        for target in level.targets:
            if isinstance(target, Person):
                people.append(target.name)
                continue
            reaches_rotation = True
            member = target.rotation.on_call(due)
            if member is None:
                gaps.append(target.rotation.name)
            else:
                people.append(member)
        owners: tuple[str, ...] = ()
        if reaches_rotation and self.handoff is not None and self.handoff.active(due):
            owners = self.handoff.owners
            people.extend(owners)
        return Page(
            step=step,
            level=level_index,
            loop=step // len(self.levels),
            due_at=due,
            people=tuple(dict.fromkeys(people)),
            gaps=tuple(gaps),
            handoff_owners=owners,
        )


@dataclass(frozen=True, slots=True)
class OnCallSummary:
    """Who is on call now, who is next and when, and the handoff window's state: for a CLI."""

    rotation: str
    time_zone: str
    at: datetime
    now: str | None
    next: str | None
    next_at: datetime | None
    handoff_owners: tuple[str, ...] = ()
    handoff_days_left: int | None = None

    def lines(self) -> list[str]:
        """The summary as lines of plain text."""
        out = [f"rotation {self.rotation} ({self.time_zone})", f"  on call now: {self.now or 'nobody'}"]
        if self.next is not None and self.next_at is not None:
            # In UTC: subtracting two datetimes that share a zone ignores a DST change between them.
            left = self.next_at.astimezone(UTC) - self.at.astimezone(UTC)
            hours = int(left.total_seconds() // 3600)
            when = f"{self.next_at:%a %Y-%m-%d %H:%M %Z}"
            out.append(f"  next: {self.next} from {when} (in {hours // 24} d {hours % 24} h)")
        else:
            out.append("  next: nobody else is scheduled")
        if self.handoff_days_left:
            out.append(
                f"  handoff window: {', '.join(self.handoff_owners)} paged too, "
                f"{self.handoff_days_left} day{'s' if self.handoff_days_left != 1 else ''} left"
            )
        return out


def who_is_on_call(
    rotation: Rotation, at: datetime, *, handoff: HandoffWindow | None = None
) -> OnCallSummary:
    """Summarise ``rotation`` at ``at``: the person on call, the next handoff, the window's days."""
    local = _utc(at, "who_is_on_call: at").astimezone(rotation.zone)
    nxt = rotation.next_handoff(local)
    active = handoff is not None and handoff.active(local)
    return OnCallSummary(
        rotation=rotation.name,
        time_zone=rotation.time_zone,
        at=local,
        now=rotation.on_call(local),
        next=nxt.member if nxt else None,
        next_at=nxt.at if nxt else None,
        handoff_owners=handoff.owners if handoff is not None and active else (),
        handoff_days_left=handoff.days_left(local) if handoff is not None and active else None,
    )
