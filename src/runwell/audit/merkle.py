"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Hashing (RFC 9162 §2.1.1), SHA-256 throughout::

    MTH({})      = SHA-256()
    leaf hash    = SHA-256(0x00 || leaf)
    node hash    = SHA-256(0x01 || left || right)
    MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Proofs are built exactly as RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF / SUBPROOF) describe:
both only ever need MTH of some sub-range ``D[start:end]``, which a :class:`SubtreeSource`
supplies. :class:`MerkleTree` is the source an append-only log keeps in memory; verifiers follow
RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and need no tree at all.

:class:`MerkleTree` stores the hash of every *complete* subtree (2**h leaves starting at a
multiple of 2**h), one ``bytearray`` per level, 32 bytes per hash: about 64 bytes per leaf.
Any range the RFC algorithms ask for is a handful of those nodes, so a proof at a million
leaves costs a few dozen slices and a few hashes, and an append adds one leaf and at most
log2(n) parents (amortised one). The tree is rebuilt level by level from stored leaf hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LeafHashList",
    "MerkleTree",
    "SubtreeSource",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || leaf)``."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162's split: the largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _pair_level(level: bytes | bytearray | memoryview) -> bytes:
    """Hash adjacent pairs of a packed level of 32-byte hashes; an odd last hash is dropped."""
    pairs = len(level) // (2 * HASH_SIZE)
    # A released memoryview: slicing it copies nothing, and the bytearray stays resizable after.
    with memoryview(level) as view:
        return b"".join([_sha256(b"\x01" + view[i : i + 64]).digest() for i in range(0, pairs * 64, 64)])


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, computed level by level (no recursion, no per-node objects).

    Pairing adjacent nodes and carrying an odd last node up unchanged gives exactly RFC 9162's
    MTH, whose split point is always a power of two.
    """
    if not hashes:
        return EMPTY_ROOT
    level: bytes = b"".join(hashes)
    if len(level) != HASH_SIZE * len(hashes):
        raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes each")
    while len(level) > HASH_SIZE:
        carried = level[-HASH_SIZE:] if (len(level) // HASH_SIZE) % 2 else b""
        level = _pair_level(level) + carried
    return level


class SubtreeSource(Protocol):
    """Anything that can give MTH(D[start:end]) of a log's leaves; the seam proofs are built on."""

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH of the leaves in ``[start, end)``."""
        ...


class LeafHashList:
    """A :class:`SubtreeSource` over a plain list of leaf hashes: the reference, O(n) per range."""

    def __init__(self, hashes: Sequence[bytes]) -> None:
        self._hashes = hashes

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH of ``hashes[start:end]``."""
        return root_from_leaf_hashes(self._hashes[start:end])


def inclusion_proof(index: int, size: int, source: SubtreeSource) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]): the audit path, leaf level first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not inside a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    # PATH recurses into the half that holds the leaf and appends the other half's MTH after the
    # recursive result; walking down and reversing at the end gives the same order.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            path.append(source.subtree_root(start + k, end))
            end = start + k
        else:
            path.append(source.subtree_root(start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(m: int, n: int, source: SubtreeSource) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true); empty when m is 0 or n."""
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}: need 0 <= m <= n")
    if m in (0, n):
        return []
    proof: list[bytes] = []
    start, end, b = 0, n, True
    # SUBPROOF, unrolled the same way as PATH above.
    while True:
        size = end - start
        if m == size:
            if not b:
                proof.append(source.subtree_root(start, end))
            break
        k = _largest_power_of_two_below(size)
        if m <= k:
            proof.append(source.subtree_root(start + k, end))
            end = start + k
        else:
            proof.append(source.subtree_root(start, start + k))
            start, m, b = start + k, m - k, False
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: True if ``proof`` shows leaf hash ``leaf`` at ``index`` under ``root``."""
    if not 0 <= index < size or len(root) != HASH_SIZE or len(leaf) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != HASH_SIZE:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: True if the tree of size ``m`` and ``root_m`` is a prefix of ``root_n``.

    Stricter than the RFC's text in one place: for ``m == 0`` the old root must be the empty
    tree's hash, the only root a tree of size 0 can have.
    """
    if not 0 <= m <= n or len(root_m) != HASH_SIZE or len(root_n) != HASH_SIZE:
        return False
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the old root is itself a node of the new tree.
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0


class MerkleTree:
    """An append-only RFC 6962 tree over leaf hashes, keeping every complete subtree's hash.

    ``levels[h]`` packs the hashes of the complete subtrees of 2**h leaves, left to right.
    Not thread-safe by itself: the audit log serialises appends and reads around it.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MerkleTree:
        """Build the tree for a list of leaf hashes in one pass per level (fast rebuild)."""
        tree = cls()
        tree.extend(hashes)
        return tree

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    def append(self, leaf_hash_: bytes) -> int:
        """Add one leaf hash; returns its index. O(1) amortised, O(log n) worst case."""
        if len(leaf_hash_) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf_hash_)}")
        index = self._size
        self._levels[0] += leaf_hash_
        self._size += 1
        # Each trailing 1 bit of the new size closes one more complete subtree.
        level, pos, right = 0, index, leaf_hash_
        while pos & 1:
            left = bytes(self._levels[level][(pos - 1) * HASH_SIZE : pos * HASH_SIZE])
            right = node_hash(left, right)
            level, pos = level + 1, pos >> 1
            if len(self._levels) == level:
                self._levels.append(bytearray())
            self._levels[level] += right
        return index

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes, hashing each new level in one batch."""
        new = b"".join(hashes)
        if len(new) % HASH_SIZE:
            raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes each")
        if not new:
            return
        self._levels[0] += new
        self._size += len(new) // HASH_SIZE
        # On each level, pair up every node that now has a right sibling and was not paired yet.
        level = 0
        while True:
            nodes = self._levels[level]
            if level + 1 == len(self._levels):
                if len(nodes) < 2 * HASH_SIZE:
                    break
                self._levels.append(bytearray())
            parents = self._levels[level + 1]
            done = 2 * len(parents)  # bytes of this level already under a parent
            if len(nodes) - done < 2 * HASH_SIZE:
                break
            with memoryview(nodes) as view:
                parents += _pair_level(view[done:])
            level += 1

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        if not 0 <= index < self._size:
            raise IndexError(f"leaf index {index} outside a tree of size {self._size}")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> list[bytes]:
        """The leaf hashes in ``[start, end)``."""
        end = self._size if end is None else end
        packed = self._levels[0]
        return [bytes(packed[i * HASH_SIZE : (i + 1) * HASH_SIZE]) for i in range(start, end)]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all), O(log n)."""
        size = self._size if size is None else size
        if not 0 <= size <= self._size:
            raise ValueError(f"no root for size {size}: the tree has {self._size} leaves")
        return self.subtree_root(0, size) if size else EMPTY_ROOT

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); O(log n) for every range the RFC 9162 proof algorithms request."""
        if not 0 <= start < end <= self._size:
            raise ValueError(f"range [{start}, {end}) is not inside a tree of size {self._size}")
        width = end - start
        if start & ((1 << (width - 1).bit_length()) - 1):
            # Not aligned to a power of two >= its width, so not made of stored nodes. RFC 9162
            # proofs never ask for such a range; compute it from the leaves for completeness.
            return root_from_leaf_hashes(self.leaf_hashes(start, end))
        # The range splits into complete subtrees of decreasing size (the set bits of its width);
        # MTH folds them right to left.
        chunks: list[bytes] = []
        pos = start
        for level in range(width.bit_length() - 1, -1, -1):
            if width >> level & 1:
                i = pos >> level
                chunks.append(bytes(self._levels[level][i * HASH_SIZE : (i + 1) * HASH_SIZE]))
                pos += 1 << level
        root = chunks[-1]
        for chunk in reversed(chunks[:-1]):
            root = node_hash(chunk, root)
        return root

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof for leaf ``index`` in the tree of ``size`` leaves."""
        size = self._size if size is None else size
        if size > self._size:
            raise ValueError(f"tree size {size} is beyond the {self._size} leaves held")
        return inclusion_proof(index, size, self)

    def consistency_proof(self, m: int, n: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree size ``m`` to ``n`` (default: all leaves)."""
        n = self._size if n is None else n
        if n > self._size:
            raise ValueError(f"tree size {n} is beyond the {self._size} leaves held")
        return consistency_proof(m, n, self)
