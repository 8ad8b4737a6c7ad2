"""A feature's ``oncall:`` compiled into the pure on-call model of :mod:`runwell.ops.oncall`.

* The rotation becomes a :class:`~runwell.ops.oncall.Rotation` (members, shift length, handoff
  time, time zone, overrides).
* The escalation steps become an :class:`~runwell.ops.oncall.EscalationPolicy`: a step's
  ``after_minutes`` counts from the alert, a level's delay is the gap to the next step, and the
  last level waits ``repeat_after_s`` before the policy starts over (``repeat`` times). Steps at
  the same moment share one level. Without steps, the owners are paged.
* ``notify`` names whoever the rotation has on call (``oncall``), a member, the owners (or one
  of them), or an email address.
* The handoff window pages the owners alongside the rotation for ``days`` days from the cutover.

People are looked up in a directory (name to email contact and Slack id) so that an email page
reaches the people it names and a Slack page mentions them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from runwell.errors import ConfigError
from runwell.ops.oncall import (
    EscalationLevel,
    EscalationPolicy,
    HandoffWindow,
    OnCallOf,
    OnCallSummary,
    Override,
    Page,
    Person,
    Rotation,
    Target,
    who_is_on_call,
)
from runwell.spec.loader import LoadedSpec
from runwell.spec.models import Owner

__all__ = ["ONCALL_WORDS", "Contact", "OnCallPlan", "compile_oncall"]

ONCALL_WORDS = frozenset({"oncall", "on-call", "rotation"})
"""What ``notify`` says to page whoever the rotation has on call."""


@dataclass(frozen=True, slots=True)
class Contact:
    """How to reach one person: an email address (when their contact is one) and a Slack id."""

    name: str
    email: str | None = None
    slack: str | None = None


@dataclass(frozen=True)
class OnCallPlan:
    """Who a feature pages, when, and over which channels."""

    feature: str
    policy: EscalationPolicy
    rotation: Rotation | None
    handoff: HandoffWindow | None
    level_channels: tuple[tuple[str, ...], ...]
    """The channel names each level pages over."""
    first_delay_s: float = 0.0
    """The first step's ``after``: how long after the alert the first page goes."""
    directory: dict[str, Contact] = field(default_factory=dict)

    def pages(self, fired_at: datetime, at: datetime, acknowledged_at: datetime | None = None) -> list[Page]:
        """Every page due from ``fired_at`` up to ``at`` (see ``EscalationPolicy.pages``)."""
        start = fired_at + timedelta(seconds=self.first_delay_s)
        if at < start:
            return []
        return self.policy.pages(start, at, acknowledged_at=acknowledged_at)

    def next_escalation(
        self, fired_at: datetime, at: datetime, acknowledged_at: datetime | None = None
    ) -> datetime | None:
        """When the next step falls due after ``at``, or ``None``."""
        start = fired_at + timedelta(seconds=self.first_delay_s)
        if at < start:
            return start
        return self.policy.next_escalation(start, at, acknowledged_at=acknowledged_at)

    def channels_of(self, level: int) -> tuple[str, ...]:
        """The channels level ``level`` pages over."""
        return self.level_channels[level % len(self.level_channels)]

    def summary(self, at: datetime) -> OnCallSummary | None:
        """Who is on call at ``at``, who is next, and the handoff window's days left."""
        if self.rotation is None:
            return None
        return who_is_on_call(self.rotation, at, handoff=self.handoff)

    def handoff_days_left(self, at: datetime) -> int | None:
        """Days left in the handoff window at ``at`` (``None`` when there is none or it is over)."""
        if self.handoff is None or not self.handoff.active(at):
            return None
        return self.handoff.days_left(at)


def compile_oncall(loaded: LoadedSpec) -> OnCallPlan:
    """The on-call plan of one feature's spec; ConfigError naming the field when it cannot be."""
    spec = loaded.spec
    oncall = spec.oncall
    where = f"{loaded.path}: oncall"
    directory: dict[str, Contact] = {}
    owners = [o.name for o in spec.feature.owners]
    for owner in spec.feature.owners:
        directory[owner.name] = Contact(owner.name, owner.email)
    rotation = None
    if oncall.rotation is not None:
        r = oncall.rotation
        for member in r.members:
            email = member.contact if "@" in member.contact else None
            directory[member.name] = Contact(member.name, email, member.slack)
        hours, minutes = (int(x) for x in r.handoff.split(":"))
        rotation = Rotation(
            name=r.name,
            members=tuple(m.name for m in r.members),
            start=r.start,
            time_zone=r.time_zone,
            shift_days=r.shift_days,
            handoff=time(hours, minutes),
            overrides=tuple(Override(o.member, o.start, o.end) for o in r.overrides),
        )
    handoff = None
    if oncall.handoff is not None:
        handoff = HandoffWindow(
            cutover=oncall.handoff.cutover,
            owners=tuple(owners),
            days=oncall.handoff.days,
            time_zone=oncall.handoff.time_zone,
        )
    all_channels = tuple(oncall.channels)
    steps = oncall.escalation
    if not steps:
        targets: tuple[Target, ...] = (
            (OnCallOf(rotation),) if rotation is not None else tuple(Person(o) for o in owners)
        )
        levels = [EscalationLevel(targets, delay_s=oncall.repeat_after_s)]
        policy = EscalationPolicy(f"{loaded.name}-default", tuple(levels), oncall.repeat, handoff)
        return OnCallPlan(loaded.name, policy, rotation, handoff, (all_channels,), 0.0, directory)
    grouped: list[tuple[float, list[Target], list[str]]] = []
    for i, step in enumerate(steps):
        found = _targets(step.notify, rotation, spec.feature.owners, directory, f"{where}.escalation[{i}]")
        channels = list(step.channels) if step.channels is not None else list(all_channels)
        if grouped and grouped[-1][0] == step.delay_s:
            grouped[-1][1].extend(found)
            grouped[-1][2].extend(c for c in channels if c not in grouped[-1][2])
        else:
            grouped.append((step.delay_s, list(found), channels))
    levels = []
    for k, (delay, targets_k, _channels) in enumerate(grouped):
        wait = grouped[k + 1][0] - delay if k + 1 < len(grouped) else oncall.repeat_after_s
        levels.append(EscalationLevel(tuple(dict.fromkeys(targets_k)), delay_s=wait))
    policy = EscalationPolicy(f"{loaded.name}-escalation", tuple(levels), oncall.repeat, handoff)
    return OnCallPlan(
        loaded.name,
        policy,
        rotation,
        handoff,
        tuple(tuple(c) for _, _, c in grouped),
        grouped[0][0],
        directory,
    )


def _targets(
    notify: str,
    rotation: Rotation | None,
    owners: Sequence[Owner],
    directory: dict[str, Contact],
    where: str,
) -> list[Target]:
    word = notify.strip()
    if word.lower() in ONCALL_WORDS or (rotation is not None and word == rotation.name):
        if rotation is None:
            raise ConfigError(f"{where}: notify {word!r} pages the rotation, but oncall.rotation is not set")
        return [OnCallOf(rotation)]
    if word.lower() == "owners":
        return [Person(o.name) for o in owners]
    if word in directory:
        return [Person(word)]
    for owner in owners:
        if owner.email == word:
            return [Person(owner.name)]
    if "@" in word:
        directory.setdefault(word, Contact(word, word))
        return [Person(word)]
    known = ", ".join([*(rotation.members if rotation else ()), *(o.name for o in owners)])
    raise ConfigError(
        f"{where}: notify {word!r} is not 'oncall', 'owners', a rotation member, an owner or an email "
        f"address (known people: {known})"
    )
