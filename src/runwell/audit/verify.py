"""Verify a stored audit log from scratch, trusting nothing in the database but the public key.

:func:`verify_log` re-reads every leaf, recomputes every leaf hash from the leaf bytes (the
stored hashes are only compared, to pinpoint an edit), rebuilds the RFC 6962 tree and then:

* checks that each entry's ``index`` field equals its position: a removed, inserted or
  reordered entry shows up at the first position where they differ;
* opens every stored checkpoint with the verifier key (C2SP signed note), checks that its row
  matches its note, that its root equals the rebuilt root at its size, and that it is
  consistent (RFC 9162 consistency proof, verified with the RFC's algorithm) with the latest;
* given a *trusted* checkpoint an auditor kept from earlier, checks that the log still extends
  it (so history was neither rewritten nor rolled back) and then checks only what came after.

Nothing found is raised: every problem goes into the :class:`VerifyReport`, which names the
first bad index. A checkpoint can only show that *some* entry in the range it was the first to
cover changed; such problems carry that range's first index and ``exact=False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from runwell.audit.errors import AuditError
from runwell.audit.merkle import MerkleTree, leaf_hash, verify_consistency
from runwell.audit.note import Checkpoint, open_note
from runwell.audit.signer import Verifier
from runwell.audit.storage import AuditStorage, StoredCheckpoint

__all__ = ["Problem", "VerifyReport", "verify_log"]

_READ_CHUNK = 50_000
_MAX_ENTRY_PROBLEMS = 20  # one removal shifts every later position; the first few tell the story


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the log.

    ``index`` is the first log index the problem puts in doubt. When the evidence only bounds
    where the bad entry is (a checkpoint root covers a range), ``end`` is set and the bad entry
    lies somewhere in ``[index, end)``.
    """

    index: int
    kind: str
    message: str
    end: int | None = None
    checkpoint_size: int | None = None

    @property
    def exact(self) -> bool:
        """True when ``index`` itself is known to be bad."""
        return self.end is None

    def __str__(self) -> str:
        where = f"index {self.index}" if self.end is None else f"index in [{self.index}, {self.end})"
        return f"{where}: {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :func:`verify_log`.

    ``problems`` come ordered by the first index they put in doubt, except that a range problem
    explained by an exactly located one (which lies inside its range) comes after all others;
    so ``problems[0]`` names the first bad index and says what is wrong there.
    ``verified_size`` is how many entries a valid signed checkpoint (or the trusted one) covers.
    """

    size: int
    root: bytes
    verified_size: int
    checkpoints_checked: int
    problems: tuple[Problem, ...]
    trusted_size: int | None = None
    entry_problems_total: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        """The first log index in doubt, or None when the log verified."""
        return self.problems[0].index if self.problems else None

    @property
    def unsigned_from(self) -> int | None:
        """Entries from this index on are not yet covered by a signed checkpoint (not an error)."""
        return self.verified_size if self.verified_size < self.size else None

    def summary(self) -> str:
        """A few lines for a terminal."""
        if self.ok:
            lines = [
                f"OK: {self.size} entries, root {self.root.hex()}, "
                f"{self.checkpoints_checked} checkpoints verified"
            ]
            if self.unsigned_from is not None:
                lines.append(
                    f"entries {self.unsigned_from}..{self.size - 1} are not covered by a checkpoint yet"
                )
            return "\n".join(lines)
        lines = [f"TAMPERED: first bad index {self.first_bad_index} ({len(self.problems)} problem(s))"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class _Findings:
    problems: list[Problem] = field(default_factory=list)
    entry_problems: int = 0

    def entry(self, problem: Problem) -> None:
        self.entry_problems += 1
        if self.entry_problems <= _MAX_ENTRY_PROBLEMS:
            self.problems.append(problem)


def _ordered(problems: list[Problem]) -> tuple[Problem, ...]:
    """Problems by first index, range problems that an exact one explains (lies in) last."""
    exact = [p.index for p in problems if p.exact]

    def explained(p: Problem) -> bool:
        return p.end is not None and any(p.index <= e < p.end for e in exact)

    return tuple(sorted(problems, key=lambda p: (explained(p), p.index, not p.exact)))


def _verifiers(vkey: str | Iterable[str]) -> list[Verifier | str]:
    keys = [vkey] if isinstance(vkey, str) else list(vkey)
    return [Verifier.from_vkey(k) for k in keys]


def _check_entries(
    storage: AuditStorage, end: int, check: range, tree: MerkleTree | None, found: _Findings
) -> None:
    """One pass over the rows: hash leaves into ``tree`` (if given); check positions in ``check``."""
    position = 0
    for start in range(0, end, _READ_CHUNK):
        stop = min(start + _READ_CHUNK, end)
        leaves = storage.read_leaves(start, stop)
        hashes = [leaf_hash(leaf) for leaf in leaves]
        if tree is not None:
            tree.extend(hashes)
        if position < check.stop and position + len(leaves) > check.start:
            stored = storage.read_leaf_hashes(start, stop)
            if len(stored) != len(leaves):
                raise AuditError(
                    f"audit rows in [{start}, {stop}) changed while being verified; run verify again"
                )
            for offset, leaf in enumerate(leaves):
                if position + offset in check:
                    _check_entry(position + offset, leaf, hashes[offset], stored[offset], found)
        position += len(leaves)


def _check_entry(pos: int, leaf: bytes, computed: bytes, stored: bytes | None, found: _Findings) -> None:
    if stored != computed:
        found.entry(
            Problem(pos, "leaf_edited", "leaf bytes do not match the hash recorded when it was appended")
        )
    try:
        entry = orjson.loads(leaf)
    except orjson.JSONDecodeError:
        found.entry(Problem(pos, "malformed_entry", "leaf is not valid JSON"))
        return
    claimed = entry.get("index") if isinstance(entry, dict) else None
    if type(claimed) is not int:
        found.entry(Problem(pos, "malformed_entry", "leaf is not an audit entry with an integer index"))
    elif claimed != pos:
        # A removal puts a later entry here (claimed > pos); an insertion makes the displaced
        # entry repeat an earlier index (claimed < pos): the smaller one is the first bad index.
        found.entry(
            Problem(
                min(pos, claimed),
                "index_mismatch",
                f"entry at position {pos} says it is entry {claimed}: "
                "entries were removed, inserted or reordered",
            )
        )


def _open_checkpoint(row: StoredCheckpoint, verifiers: list[Verifier | str]) -> Checkpoint:
    return Checkpoint.parse(open_note(row.note, verifiers))


def verify_log(
    storage: AuditStorage,
    vkey: str | Iterable[str],
    trusted_checkpoint: str | None = None,
    *,
    origin: str | None = None,
) -> VerifyReport:
    """Verify ``storage``'s audit log against the public key(s) ``vkey``.

    ``trusted_checkpoint`` is a signed checkpoint note the auditor obtained earlier; it must
    verify with ``vkey`` (else :class:`AuditError`, since the auditor's input is wrong, not the
    log). ``origin`` pins the log's origin (default: the trusted checkpoint's, else any).
    """
    verifiers = _verifiers(vkey)
    trusted: Checkpoint | None = None
    if trusted_checkpoint is not None:
        try:
            trusted = Checkpoint.parse(open_note(trusted_checkpoint, verifiers))
        except AuditError as exc:
            raise AuditError(f"the trusted checkpoint does not verify with the given key: {exc}") from None
        origin = origin or trusted.origin
    found = _Findings()
    end = storage.size()
    tree = MerkleTree()
    # With a trusted checkpoint whose root still matches, the entries it covers are proven by it.
    check_from = trusted.size if trusted is not None else 0
    _check_entries(storage, end, range(check_from, end), tree, found)

    floor = 0  # checkpoints below a trusted size are superseded by it, unless it failed
    if trusted is not None:
        floor = _check_trusted(trusted, tree, found)
        if not floor and trusted.size:
            # Diagnose the range the trusted root no longer vouches for, entry by entry.
            _check_entries(storage, end, range(0, check_from), None, found)

    rows = storage.checkpoints()
    good = _check_checkpoints(rows, verifiers, tree, floor, origin, found)
    verified_size = good[-1].size if good else 0
    if trusted is not None:
        # Rows below a matching trusted size were not opened; the newest of them is where the
        # stored checkpoints stop if nothing at or above the trusted size survived.
        newest = good[-1].size if good else max((r.size for r in rows if r.size < floor), default=0)
        if floor:
            verified_size = max(verified_size, trusted.size)
        if newest < trusted.size:
            found.problems.append(
                Problem(
                    newest,
                    "checkpoints_rolled_back",
                    f"the newest valid stored checkpoint has size {newest} but the trusted one has size "
                    f"{trusted.size}: newer checkpoints were deleted or replaced",
                    end=trusted.size,
                )
            )
        elif floor and not verify_consistency(
            trusted.size,
            newest,
            trusted.root_hash,
            good[-1].root_hash,
            tree.consistency_proof(trusted.size, newest),
        ):
            found.problems.append(
                Problem(trusted.size, "inconsistent", "the latest checkpoint does not extend the trusted one")
            )
    problems = _ordered(found.problems)
    return VerifyReport(
        size=tree.size,
        root=tree.root(),
        verified_size=verified_size,
        checkpoints_checked=len(good),
        problems=problems,
        trusted_size=trusted.size if trusted is not None else None,
        entry_problems_total=found.entry_problems,
    )


def _check_trusted(trusted: Checkpoint, tree: MerkleTree, found: _Findings) -> int:
    """Compare the rebuilt tree with a trusted checkpoint; returns its size if it still holds, else 0."""
    if trusted.size > tree.size:
        found.problems.append(
            Problem(
                tree.size,
                "rolled_back",
                f"the log has {tree.size} entries but the trusted checkpoint covers {trusted.size}: "
                "entries were removed from the end",
            )
        )
        return 0
    if tree.root(trusted.size) != trusted.root_hash:
        found.problems.append(
            Problem(
                0,
                "history_rewritten",
                f"the rebuilt root at size {trusted.size} differs from the trusted checkpoint's",
                end=trusted.size,
                checkpoint_size=trusted.size,
            )
        )
        return 0
    return trusted.size


def _check_checkpoints(
    rows: list[StoredCheckpoint],
    verifiers: list[Verifier | str],
    tree: MerkleTree,
    floor: int,
    origin: str | None,
    found: _Findings,
) -> list[Checkpoint]:
    """Check stored checkpoints of size >= floor; returns the good ones by size."""
    good: list[Checkpoint] = []
    last_good = floor
    for row in rows:
        if row.size < floor:
            continue
        # Until this row is shown good, everything after the last good checkpoint is in doubt.
        in_doubt = {"end": max(row.size, last_good + 1), "checkpoint_size": row.size}
        try:
            checkpoint = _open_checkpoint(row, verifiers)
        except AuditError as exc:
            found.problems.append(
                Problem(last_good, "bad_checkpoint", f"checkpoint row {row.size}: {exc}", **in_doubt)
            )
            continue
        origin = origin or checkpoint.origin
        if checkpoint.origin != origin:
            message = f"checkpoint {row.size} is for origin {checkpoint.origin!r}, not {origin!r}"
            found.problems.append(Problem(last_good, "wrong_origin", message, **in_doubt))
        elif checkpoint.size != row.size or checkpoint.root_hash != row.root:
            message = (
                f"the row for size {row.size} holds a signed checkpoint of size {checkpoint.size} or with "
                "another root: an older checkpoint was put in its place"
            )
            found.problems.append(Problem(last_good, "checkpoint_substituted", message, **in_doubt))
        elif checkpoint.size > tree.size:
            message = (
                f"checkpoint {checkpoint.size} covers entries the log no longer has (it ends at {tree.size})"
            )
            found.problems.append(Problem(tree.size, "missing_entries", message, checkpoint_size=row.size))
        elif tree.root(checkpoint.size) != checkpoint.root_hash:
            message = (
                f"an entry in [{last_good}, {checkpoint.size}) differs from what "
                f"checkpoint {checkpoint.size} signed"
            )
            found.problems.append(Problem(last_good, "root_mismatch", message, **in_doubt))
        else:
            good.append(checkpoint)
            last_good = checkpoint.size
    if good:
        latest = good[-1]
        for checkpoint in good[:-1]:
            proof = tree.consistency_proof(checkpoint.size, latest.size)
            if not verify_consistency(
                checkpoint.size, latest.size, checkpoint.root_hash, latest.root_hash, proof
            ):
                found.problems.append(
                    Problem(
                        checkpoint.size,
                        "inconsistent",
                        f"checkpoint {checkpoint.size} is not a prefix of {latest.size}",
                    )
                )
    return good
