"""The shared budget backend: counters in Redis, each step one Lua script (one round trip, atomic).

Layout, per counter (one scope in one window), under ``PREFIX:{feature}:WINDOW:ID:SCOPE:SUBJECT``:

- a hash: ``s0 s1 s2`` spent and ``r0 r1 r2`` held by live reservations (nano-dollars, tokens,
  requests), and ``a0 a1`` once the dollar or token alert of this window was reported (``HSETNX``
  makes "once" hold across replicas);
- a sorted set ``...:r`` of the live reservations, scored by expiry (ms); each member is
  ``ID:USD:TOKENS:REQUESTS``, so expiring one subtracts what it held without another lookup.

Every script reads each counter once, first dropping the reservations past their TTL, and writes
it once. Both keys expire a minute after their window ends. Times come from the gateway's clock
(so that tests can move it); replicas' clocks should agree to well within the reservation TTL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from runwell.control._budget_model import BudgetStoreUnavailable
from runwell.control._budget_plan import Budgets, Clock, Found, Reservation
from runwell.control._resp import RespClient, RespError, Script
from runwell.errors import ConfigError
from runwell.store import mask_url

__all__ = ["RedisBudgets"]

_GRACE_MS = 60_000

# Shared by the three scripts. A counter is read once (HMGET) into v = {s0, s1, s2, r0, r1, r2}
# and written once (HSET); Lua numbers are doubles, exact for integers below 2**53, and are
# formatted with %.0f because redis.call would write 1e+15 for them.
_COMMON = """
local now = ARGV[1]
local member = ARGV[2]
local FIELDS = {'s0', 's1', 's2', 'r0', 'r1', 'r2'}
local function int(x) return string.format('%.0f', x) end
local function held_by(m)
  local u, t, q = string.match(m, ':(%d+):(%d+):(%d+)$')
  return {tonumber(u), tonumber(t), tonumber(q)}
end
-- Read a counter, dropping its reservations past their TTL (and what they held).
local function load(h, z)
  local v = redis.call('HMGET', h, unpack(FIELDS))
  local new = true
  for k = 1, 6 do
    if v[k] then new = false end
    v[k] = tonumber(v[k]) or 0
  end
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone > 0 then
    for _, m in ipairs(gone) do
      local back = held_by(m)
      for k = 1, 3 do v[k + 3] = v[k + 3] - back[k] end
    end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    redis.call('HSET', h, 'r0', int(v[4]), 'r1', int(v[5]), 'r2', int(v[6]))
  end
  return v, new
end
-- Stop holding this reservation in a loaded counter, unless it had expired already.
local function unhold(z, v)
  if redis.call('ZREM', z, member) == 1 then
    local back = held_by(member)
    for k = 1, 3 do v[k + 3] = v[k + 3] - back[k] end
    return true
  end
  return false
end
"""

# KEYS: hash, set per counter. ARGV: now ms, member, expiry ms, usd, tokens, requests, then per
# counter: key TTL ms, number of checks, (unit, limit) per check.
# Returns {1} when granted, else {0, counter index (0-based), unit, spent, held}.
_GRANT = (
    _COMMON
    + """
local amount = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local loaded = {}
local a = 7
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local v, new = load(h, z)
  loaded[i] = {v, new, ARGV[a]}
  local checks = tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, checks do
    local u = tonumber(ARGV[a]) + 1
    if v[u] + v[u + 3] + amount[u] > tonumber(ARGV[a + 1]) then
      return {0, i - 1, u - 1, int(v[u]), int(v[u + 3])}
    end
    a = a + 2
  end
end
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local v, new, ttl = loaded[i][1], loaded[i][2], loaded[i][3]
  redis.call('HSET', h, 'r0', int(v[4] + amount[1]), 'r1', int(v[5] + amount[2]), 'r2', int(v[6] + amount[3]))
  redis.call('ZADD', z, ARGV[3], member)
  -- The set is deleted whenever its last reservation leaves it: give it a TTL every time.
  redis.call('PEXPIRE', z, ttl)
  if new then redis.call('PEXPIRE', h, ttl) end
end
return {1}
"""
)

# ARGV: now ms, member, used usd, tokens, requests, then per counter: key TTL ms, number of
# alerts, (unit, threshold) per alert. Returns {counter index, unit, spent} per new alert.
_SETTLE = (
    _COMMON
    + """
local used = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])}
local out = {}
local a = 6
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local v, new = load(h, z)
  unhold(z, v)
  for k = 1, 3 do v[k] = v[k] + used[k] end
  redis.call('HSET', h, 's0', int(v[1]), 's1', int(v[2]), 's2', int(v[3]),
             'r0', int(v[4]), 'r1', int(v[5]), 'r2', int(v[6]))
  -- A settle after the window's keys expired recreates the hash: let it expire again.
  if new then redis.call('PEXPIRE', h, ARGV[a]) end
  local alerts = tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, alerts do
    local u = tonumber(ARGV[a])
    if v[u + 1] >= tonumber(ARGV[a + 1]) and redis.call('HSETNX', h, 'a' .. u, 1) == 1 then
      out[#out + 1] = {i - 1, u, int(v[u + 1])}
    end
    a = a + 2
  end
end
return out
"""
)

# ARGV: now ms, member.
_RELEASE = (
    _COMMON
    + """
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local v = load(h, z)
  if unhold(z, v) then
    redis.call('HSET', h, 'r0', int(v[4]), 'r1', int(v[5]), 'r2', int(v[6]))
  end
end
return 0
"""
)


class RedisBudgets(Budgets):
    """Budgets shared by every gateway replica through one Redis; see :class:`Budgets` for the methods.

    ``timeout_s`` bounds each wait: for one of the ``max_connections`` pooled connections, for a
    connection to open, for each reply. So a dead or overloaded Redis costs a call a few
    ``timeout_s`` at most (a closed port: next to nothing), and after a failure every call fails at
    once for ``cooldown_s`` (so a Redis that drops packets does not add ``timeout_s`` to every
    request) before the next call tries again. Commands are never retried: a script whose reply
    was lost may have run. Raises ConfigError for a URL that is not ``redis://``, ``rediss://``
    or ``unix://``.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "runwell:budget",
        clock: Clock = time.time,
        reservation_ttl_s: float = 300.0,
        timeout_s: float = 0.1,
        cooldown_s: float = 0.5,
        max_connections: int = 64,
    ) -> None:
        super().__init__(clock=clock, reservation_ttl_s=reservation_ttl_s)
        self.url = mask_url(redis_url)
        """Where the budgets live, any password masked."""
        self._prefix = prefix
        self._cooldown_s = cooldown_s
        self._down_until = 0.0
        # A burst of requests waits (up to timeout_s) for one of max_connections rather than
        # failing: each step holds a connection for one round trip only.
        try:
            self._redis = RespClient(redis_url, timeout_s=timeout_s, max_connections=max_connections)
        except ConfigError as exc:
            raise ConfigError(f"budget store URL {self.url!r} is not a Redis URL: {exc}") from None
        self._grant_script = Script.of(_GRANT)
        self._settle_script = Script.of(_SETTLE)
        self._release_script = Script.of(_RELEASE)

    async def aclose(self) -> None:
        """Close the connections to Redis."""
        await self._redis.aclose()

    def _keys(self, reservation: Reservation) -> list[str]:
        keys: list[str] = []
        for counter in reservation.counters:
            name = f"{self._prefix}:{counter.key}"
            keys.append(name)
            keys.append(name + ":r")
        return keys

    @staticmethod
    def _ttl_ms(end: float, now: float) -> int:
        return max(_GRACE_MS, int((end - now) * 1000) + _GRACE_MS)

    async def _run(self, what: str, script: Script, keys: list[str], args: list[Any]) -> Any:
        if time.monotonic() < self._down_until:
            raise BudgetStoreUnavailable(
                f"the budget store (Redis at {self.url}) failed moments ago; not trying again for up "
                f"to {self._cooldown_s:g} s, so cannot {what}. Check that Redis is running and reachable"
            )
        try:
            return await self._redis.evalsha(script, keys, args)
        except (RespError, OSError, TimeoutError, ValueError) as exc:
            self._down_until = time.monotonic() + self._cooldown_s
            raise BudgetStoreUnavailable(
                f"the budget store (Redis at {self.url}) did not answer ({type(exc).__name__}: {exc}), so "
                f"cannot {what}. Check that Redis is running and reachable; the gateway's budget policy "
                "decides whether requests are served meanwhile"
            ) from exc

    async def _grant(self, reservation: Reservation, now: float) -> Found | None:
        args: list[Any] = [int(now * 1000), reservation.member, int(reservation.expires_at * 1000)]
        args.extend(reservation.amounts)
        for counter in reservation.counters:
            args.append(self._ttl_ms(counter.span.end, now))
            args.append(len(counter.rule.checks))
            for unit, limit, _ in counter.rule.checks:
                args.append(unit)
                args.append(limit)
        reply = await self._run("reserve a budget", self._grant_script, self._keys(reservation), args)
        if reply[0] == 1:
            return None
        return int(reply[1]), int(reply[2]), int(reply[3]), int(reply[4])

    async def _settle(
        self, reservation: Reservation, used: tuple[int, int, int], now: float
    ) -> Sequence[tuple[int, int, int]]:
        args: list[Any] = [int(now * 1000), reservation.member, *used]
        for counter in reservation.counters:
            args.append(self._ttl_ms(counter.span.end, now))
            args.append(len(counter.rule.alerts))
            for unit, threshold in counter.rule.alerts:
                args.append(unit)
                args.append(threshold)
        reply = await self._run("settle a budget", self._settle_script, self._keys(reservation), args)
        return [(int(i), int(u), int(spent)) for i, u, spent in reply]

    async def _release(self, reservation: Reservation, now: float) -> None:
        args = [int(now * 1000), reservation.member]
        await self._run("release a budget", self._release_script, self._keys(reservation), args)
