"""Sticky traffic assignment: the same user gets the same variant, and buckets only ever grow.

Each (rollout, targeting key) pair hashes to a fixed point in [0, 100). The candidate gets the
users whose point lies below the current percentage, so a user in the candidate at 5 % is still
in it at 25 % (monotone buckets), and two rollouts split users independently of each other
(the rollout id salts the hash).
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal, TypeAlias

__all__ = ["Arm", "assign", "bucket", "mirrored"]

Arm: TypeAlias = Literal["candidate", "baseline"]

_SCALE = float(2**64)


def bucket(targeting_key: str, rollout_id: str) -> float:
    """The user's fixed point in [0, 100) for this rollout (BLAKE2b, stable across processes)."""
    # The length prefix keeps ("ab", "c") and ("a", "bc") apart.
    material = f"{len(rollout_id)}:{rollout_id}:{targeting_key}".encode()
    digest = hashlib.blake2b(material, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE * 100.0


def _check_percent(percent: float) -> None:
    if not (0.0 <= percent <= 100.0) or math.isnan(percent):
        raise ValueError(f"percent must be within 0..100, got {percent!r}")


def assign(targeting_key: str, rollout_id: str, percent: float) -> Arm:
    """``"candidate"`` when the key's bucket lies below ``percent`` (0..100), else ``"baseline"``."""
    _check_percent(percent)
    return "candidate" if bucket(targeting_key, rollout_id) < percent else "baseline"


def mirrored(request_id: str, rollout_id: str, sample_rate: float) -> bool:
    """Whether a shadow rollout copies this request (a fraction ``sample_rate`` in [0, 1] of them)."""
    _check_percent(sample_rate * 100.0)
    return bucket(request_id, f"shadow/{rollout_id}") < sample_rate * 100.0
