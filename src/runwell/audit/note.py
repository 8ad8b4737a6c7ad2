"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint).

A signed note is a UTF-8 text ending in a newline, a blank line, then one line per signature::

    <text>\\n
    \\n
    — <key name> <base64(4-byte big-endian key id || signature)>\\n

A checkpoint is a note whose text is the log's origin, its size and its root hash::

    runwell.example/audit
    1042
    3u5c0...base64 of the 32-byte RFC 6962 root...=

Opening follows the spec's rules: signatures from unknown keys are ignored, a signature from a
trusted key that fails is an error for the whole note, and a note with no verified signature
is rejected.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from runwell.audit.errors import BadSignatureError, NoteFormatError, UnknownKeyError
from runwell.audit.merkle import HASH_SIZE
from runwell.audit.signer import Signer, Verifier, check_key_name

__all__ = [
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteSignature",
    "open_note",
    "parse_note",
    "sign_note",
]

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec asks verifiers to accept at least 16)."""

_DASH = "\u2014 "


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note: key name, key id and the raw signature bytes."""

    name: str
    key_id: int
    signature: bytes


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ch < " " and ch != "\n":
            raise NoteFormatError(f"{what} contains the control character {ch!r}; only newline is allowed")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteFormatError(f"{what} is not valid Unicode (lone surrogate)") from None


def sign_note(body: str, signer: Signer | str) -> str:
    """Sign a note text with one key (a :class:`Signer` or an skey string); returns the note."""
    key = Signer.from_skey(signer) if isinstance(signer, str) else signer
    if not body.endswith("\n"):
        raise NoteFormatError("a note text must end with a newline")
    _check_text(body, "note text")
    signature = key.sign(body.encode("utf-8"))
    blob = base64.b64encode(key.key_id.to_bytes(4, "big") + signature).decode("ascii")
    return f"{body}\n{_DASH}{key.name} {blob}\n"


def parse_note(text: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking the format only."""
    _check_text(text, "signed note")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteFormatError("signed note has no blank line between its text and its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block.endswith("\n"):
        raise NoteFormatError("signed note does not end with a newline after its last signature")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(
            f"signed note has {len(lines)} signatures; at most {MAX_SIGNATURES} are accepted"
        )
    signatures: list[NoteSignature] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_DASH):
            raise NoteFormatError(
                f"signature line {number} does not start with an em dash and a space: {line!r}"
            )
        name, sep, blob = line[len(_DASH) :].partition(" ")
        if not sep:
            raise NoteFormatError(f"signature line {number} has no space between key name and signature")
        check_key_name(name)
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise NoteFormatError(f"signature line {number}: the signature is not standard base64") from None
        if len(raw) < 5:
            raise NoteFormatError(
                f"signature line {number}: a signature needs a 4-byte key id and a signature"
            )
        signatures.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return body, signatures


def _verifier_index(vkeys: Iterable[Verifier | str]) -> dict[tuple[str, int], Verifier]:
    index: dict[tuple[str, int], Verifier] = {}
    for item in vkeys:
        verifier = Verifier.from_vkey(item) if isinstance(item, str) else item
        known = index.setdefault((verifier.name, verifier.key_id), verifier)
        if known.public_key != verifier.public_key:
            raise NoteFormatError(
                f"two different verifier keys share name and id {verifier.name}+{verifier.key_id:08x}"
            )
    return index


def open_note(text: str, vkeys: Iterable[Verifier | str]) -> str:
    """Verify a signed note against trusted keys and return its text.

    Raises :class:`NoteFormatError` when malformed, :class:`BadSignatureError` when a trusted
    key's signature fails, and :class:`UnknownKeyError` when no trusted key signed it.
    """
    body, signatures = parse_note(text)
    trusted = _verifier_index(vkeys)
    message = body.encode("utf-8")
    verified = 0
    for sig in signatures:
        verifier = trusted.get((sig.name, sig.key_id))
        if verifier is None:
            continue  # C2SP: signatures from unknown keys are ignored
        if not verifier.verify(message, sig.signature):
            raise BadSignatureError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        verified += 1
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in signatures)
        raise UnknownKeyError(f"note has no signature from a trusted key (signed by: {names})")
    return body


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog checkpoint body: the log's origin, its tree size and its RFC 6962 root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteFormatError(f"checkpoint origin must be one non-empty line, got {self.origin!r}")
        if self.size < 0:
            raise NoteFormatError(f"checkpoint size must not be negative, got {self.size}")
        if len(self.root_hash) != HASH_SIZE:
            raise NoteFormatError(
                f"checkpoint root hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}"
            )
        for line in self.extensions:
            if not line or "\n" in line:
                raise NoteFormatError(
                    f"checkpoint extension lines must be non-empty single lines, got {line!r}"
                )

    def to_body(self) -> str:
        """The checkpoint as a note text (ends with a newline)."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint note text (as returned by :func:`open_note`)."""
        if not body.endswith("\n"):
            raise NoteFormatError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteFormatError(
                f"checkpoint body needs origin, size and root lines, got {len(lines)} line(s)"
            )
        origin, size_text, root_text, *extensions = lines
        if (
            not size_text.isascii()
            or not size_text.isdigit()
            or (size_text != "0" and size_text.startswith("0"))
        ):
            raise NoteFormatError(
                f"checkpoint size {size_text!r} is not a decimal number without leading zeros"
            )
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError):
            raise NoteFormatError(f"checkpoint root hash {root_text!r} is not standard base64") from None
        return cls(origin, int(size_text), root, tuple(extensions))
