"""RFC 6962 / 9162 Merkle trees: published test vectors, a from-the-RFC reference, properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runwell.audit.merkle import (
    EMPTY_ROOT,
    LeafHashList,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# The certificate-transparency test leaves (transparency-dev/merkle testonly/constants.go).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# (leaf index, tree size, path) from transparency-dev/merkle proof/verify_test.go.
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (old size, new size, proof) from the same file.
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flip(digest: bytes, bit: int) -> bytes:
    """``digest`` with one bit inverted."""
    changed = bytearray(digest)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def _hex(proof: list[bytes]) -> list[str]:
    return [p.hex() for p in proof]


def _tree(n: int) -> MerkleTree:
    return MerkleTree.from_leaf_hashes(leaf_hash(leaf) for leaf in LEAVES[:n])


# --- Reference implementation, transcribed from RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 ---------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


# --- Known answers ------------------------------------------------------------------------


def test_leaf_hashes_match_the_published_values() -> None:
    assert [leaf_hash(leaf).hex() for leaf in LEAVES] == LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_values(size: int) -> None:
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:size]]
    assert root_from_leaf_hashes(hashes).hex() == ROOTS[size]
    assert _tree(size).root().hex() == ROOTS[size]
    assert _tree(8).root(size).hex() == ROOTS[size]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_published_values(index: int, size: int, path: list[str]) -> None:
    assert _hex(_tree(8).inclusion_proof(index, size)) == path
    proof = [bytes.fromhex(p) for p in path]
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, root)


@pytest.mark.parametrize(("m", "n", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_published_values(m: int, n: int, path: list[str]) -> None:
    assert _hex(_tree(8).consistency_proof(m, n)) == path
    proof = [bytes.fromhex(p) for p in path]
    assert verify_consistency(m, n, bytes.fromhex(ROOTS[m]), bytes.fromhex(ROOTS[n]), proof)


@pytest.mark.parametrize(("index", "size", "path"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    # The probes of transparency-dev/merkle's corruptInclusionProof.
    proof = [bytes.fromhex(p) for p in path]
    root, leaf = bytes.fromhex(ROOTS[size]), leaf_hash(LEAVES[index])
    probes = [
        (index - 1, size, root, leaf, proof),
        (index + 1, size, root, leaf, proof),
        (index ^ 2, size, root, leaf, proof),
        (index, size * 2, root, leaf, proof),
        (index, size // 2, root, leaf, proof),
        (index, size, root, leaf_hash(b"WrongLeaf"), proof),
        (index, size, EMPTY_ROOT, leaf, proof),
        (index, size, SOME_HASH, leaf, proof),
        (index, size, root, leaf, [*proof, b""]),
        (index, size, root, leaf, [*proof, root]),
        (index, size, root, leaf, [b"", *proof]),
        (index, size, root, leaf, [root, *proof]),
        (index, size, root, leaf, proof[:-1]),
        (index, size, root, leaf, [proof[0], SOME_HASH, *proof[1:]]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, root, leaf, flipped))
    for p_index, p_size, p_root, p_leaf, p_proof in probes:
        assert not verify_inclusion(p_leaf, p_index, p_size, p_proof, p_root), (p_index, p_size)


@pytest.mark.parametrize(("m", "n", "path"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(m: int, n: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    r1, r2 = bytes.fromhex(ROOTS[m]), bytes.fromhex(ROOTS[n])
    probes = [
        (m - 1, n, r1, r2, proof),
        (m + 1, n, r1, r2, proof),
        (m ^ 2, n, r1, r2, proof),
        (m, n * 2, r1, r2, proof),
        (m, n // 2, r1, r2, proof),
        (m, n, SOME_HASH, r2, proof),
        (m, n, r1, SOME_HASH, proof),
        (m, n, r2, r1, proof),
        (m, n, r1, r2, []),
        (m, n, r1, r2, [*proof, b""]),
        (m, n, r1, r2, [*proof, r1]),
        (m, n, r1, r2, [*proof, r2]),
        (m, n, r1, r2, [b"", *proof]),
        (m, n, r1, r2, [r1, *proof]),
        (m, n, r1, r2, [r2, *proof]),
        (m, n, r1, r2, [proof[0], *proof]),
        (m, n, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((m, n, r1, r2, flipped))
    for p_m, p_n, p_r1, p_r2, p_proof in probes:
        assert not verify_consistency(p_m, p_n, p_r1, p_r2, p_proof), (p_m, p_n)


def test_trivial_consistency_cases() -> None:
    root = bytes.fromhex(ROOTS[3])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 3, EMPTY_ROOT, root, [])
    assert verify_consistency(3, 3, root, root, [])
    assert not verify_consistency(3, 3, root, EMPTY_ROOT, [])
    assert not verify_consistency(3, 3, root, root, [root])
    assert not verify_consistency(0, 3, root, root, [])  # a size-0 tree has only one root
    assert not verify_consistency(4, 3, root, root, [])


def test_proof_arguments_outside_the_tree_are_refused() -> None:
    tree = _tree(7)
    for index, size in [(0, 0), (7, 7), (-1, 3)]:
        with pytest.raises(ValueError):
            tree.inclusion_proof(index, size)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 8)
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 4)
    assert not verify_inclusion(SOME_HASH, 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, 2, 1, [], SOME_HASH)


# --- Properties ---------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=200)


def _random_hashes(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(8)) for _ in range(n)]


@given(sizes, st.integers(min_value=0, max_value=2**32))
def test_tree_agrees_with_the_rfc_reference(n: int, seed: int) -> None:
    hashes = _random_hashes(n, seed)
    rng = random.Random(seed)
    tree = MerkleTree()
    pos = 0
    while pos < n:  # mix single appends and batches: both must build the same tree
        step = rng.randint(1, 9)
        if step == 1:
            tree.append(hashes[pos])
        else:
            tree.extend(hashes[pos : pos + step])
        pos += step
    m = rng.randint(1, n)
    index = rng.randrange(n)
    assert tree.root() == ref_mth(hashes) == root_from_leaf_hashes(hashes)
    assert tree.root(m) == ref_mth(hashes[:m])
    assert tree.inclusion_proof(index) == ref_path(index, hashes)
    assert inclusion_proof(index, n, LeafHashList(hashes)) == ref_path(index, hashes)
    expected = ref_subproof(m, hashes, True) if m < n else []
    assert tree.consistency_proof(m) == expected
    assert consistency_proof(m, n, LeafHashList(hashes)) == expected


@given(sizes, st.data())
def test_every_inclusion_proof_verifies_and_every_alteration_fails(n: int, data: st.DataObject) -> None:
    hashes = _random_hashes(n, n)
    tree = MerkleTree.from_leaf_hashes(hashes)
    size = data.draw(st.integers(min_value=1, max_value=n), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    root, proof = tree.root(size), tree.inclusion_proof(index, size)
    assert verify_inclusion(hashes[index], index, size, proof, root)
    for other in {index - 1, index + 1, index ^ 1} - {index}:
        if 0 <= other < size and hashes[other] != hashes[index]:
            assert not verify_inclusion(hashes[index], other, size, proof, root)
    # A proof fits several sizes whose trees share the path's shape; doubling or halving the
    # size always changes it (the probes transparency-dev/merkle uses).
    assert not verify_inclusion(hashes[index], index, size * 2, proof, root)
    assert not verify_inclusion(hashes[index], index, size // 2, proof, root)
    assert not verify_inclusion(hashes[index], index, size, proof, SOME_HASH)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
        altered = list(proof)
        altered[i] = _flip(altered[i], bit)
        assert not verify_inclusion(hashes[index], index, size, altered, root)
        assert not verify_inclusion(hashes[index], index, size, proof[:-1], root)
        assert not verify_inclusion(hashes[index], index, size, [*proof, SOME_HASH], root)


@given(sizes, st.data())
def test_every_consistency_proof_verifies_and_every_alteration_fails(n: int, data: st.DataObject) -> None:
    hashes = _random_hashes(n, n + 1)
    tree = MerkleTree.from_leaf_hashes(hashes)
    new = data.draw(st.integers(min_value=1, max_value=n), label="new")
    old = data.draw(st.integers(min_value=1, max_value=new), label="old")
    r_old, r_new = tree.root(old), tree.root(new)
    proof = tree.consistency_proof(old, new)
    assert verify_consistency(old, new, r_old, r_new, proof)
    assert not verify_consistency(old, new, SOME_HASH, r_new, proof)
    assert not verify_consistency(old, new, r_old, SOME_HASH, proof)
    for wrong_old in {old - 1, old + 1} - {old}:
        if 0 < wrong_old <= new and tree.root(wrong_old) != r_old:
            assert not verify_consistency(wrong_old, new, r_old, r_new, proof)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        altered = list(proof)
        altered[i] = bytes([altered[i][0] ^ 1]) + altered[i][1:]
        assert not verify_consistency(old, new, r_old, r_new, altered)
        assert not verify_consistency(old, new, r_old, r_new, proof[:-1])
        assert not verify_consistency(old, new, r_old, r_new, [*proof, SOME_HASH])


def test_subtree_root_of_an_unaligned_range_is_still_its_mth() -> None:
    hashes = _random_hashes(13, 7)
    tree = MerkleTree.from_leaf_hashes(hashes)
    assert tree.subtree_root(3, 10) == ref_mth(hashes[3:10])
    assert tree.subtree_root(8, 13) == ref_mth(hashes[8:13])


def test_leaf_hashes_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        MerkleTree().append(b"short")
    with pytest.raises(ValueError):
        MerkleTree().extend([b"x" * 33])
