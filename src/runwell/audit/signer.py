"""Ed25519 keys in the C2SP signed-note key formats, and the key file that holds the signer.

The formats are golang.org/x/mod/sumdb/note's, so keys interoperate with Go tooling::

    key id  = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]   (big-endian uint32)
    vkey    = <name>+<8 hex key id>+<base64(0x01 || public key)>
    skey    = PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte private seed)>

0x01 is the C2SP signature type byte for Ed25519. A key name is non-empty and holds neither
white space nor ``+`` (it is the separator above). Parsing is strict: canonical base64 only, the
key id must match the key, so a mangled key string never loads as some other key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runwell.audit.errors import AuditError, NoteFormatError

__all__ = [
    "ED25519_TYPE",
    "Signer",
    "Verifier",
    "check_key_name",
    "generate_key",
    "key_id",
    "read_key_file",
    "write_key_file",
]

ED25519_TYPE = 0x01
"""C2SP signed-note signature type identifier for Ed25519."""

_SKEY_PREFIX = "PRIVATE+KEY+"


def check_key_name(name: str) -> str:
    """Return ``name`` if it is a valid signed-note key name, else raise NoteFormatError."""
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteFormatError(
            f"invalid key name {name!r}: a key name must be non-empty, without spaces or '+' "
            "(a schema-less URL such as 'example.com/audit' is recommended)"
        )
    return name


def key_id(name: str, public_key: bytes) -> int:
    """C2SP key id of an Ed25519 key: first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode_strict(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteFormatError(f"{what}: {text!r} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteFormatError(f"{what}: {text!r} is not canonical base64")
    return raw


def _split_key(text: str, what: str) -> tuple[str, int, bytes]:
    """Split ``name+hex8+base64`` and decode the typed key bytes (checks type and length)."""
    parts = text.split("+", 2)  # base64 may itself contain '+'
    if len(parts) != 3:
        raise NoteFormatError(f"{what} must be NAME+KEYID+KEY, got {len(parts)} '+'-separated parts")
    name, hex_id, b64 = parts
    check_key_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise NoteFormatError(f"{what}: key id {hex_id!r} is not 8 lower-case hex digits")
    raw = _b64decode_strict(b64, what)
    if len(raw) != 33 or raw[0] != ED25519_TYPE:
        raise NoteFormatError(
            f"{what}: expected an Ed25519 key (type byte 0x01 and 32 key bytes), "
            f"got {len(raw)} bytes with type {raw[:1].hex() or 'none'}"
        )
    return name, int(hex_id, 16), raw[1:]


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes_raw()


def _vkey_string(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([ED25519_TYPE]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key):08x}+{encoded}"


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted public key: name, key id and Ed25519 public key."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse a verifier key string ``name+hex8+base64(0x01 || pubkey)``."""
        name, kid, public = _split_key(vkey.strip(), "verifier key")
        if key_id(name, public) != kid:
            raise NoteFormatError(
                f"verifier key for {name!r}: key id {kid:08x} does not match its public key "
                f"(expected {key_id(name, public):08x}); the key string is corrupted"
            )
        return cls(name, kid, public)

    @property
    def vkey(self) -> str:
        """This key as a verifier key string."""
        return _vkey_string(self.name, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True, repr=False)
class Signer:
    """A private signing key: name, key id and Ed25519 private seed (never shown in repr)."""

    name: str
    key_id: int
    seed: bytes

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse a signer key string ``PRIVATE+KEY+name+hex8+base64(0x01 || seed)``."""
        skey = skey.strip()
        if not skey.startswith(_SKEY_PREFIX):
            raise NoteFormatError("signer key must start with PRIVATE+KEY+")
        name, kid, seed = _split_key(skey[len(_SKEY_PREFIX) :], "signer key")
        public = _public_bytes(Ed25519PrivateKey.from_private_bytes(seed).public_key())
        if key_id(name, public) != kid:
            raise NoteFormatError(
                f"signer key for {name!r}: key id {kid:08x} does not match the key; "
                "the key string is corrupted"
            )
        return cls(name, kid, seed)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"

    @property
    def skey(self) -> str:
        """This key as a signer key string (secret!)."""
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + self.seed).decode("ascii")
        return f"{_SKEY_PREFIX}{self.name}+{self.key_id:08x}+{encoded}"

    @property
    def verifier(self) -> Verifier:
        """The matching public key."""
        public = _public_bytes(Ed25519PrivateKey.from_private_bytes(self.seed).public_key())
        return Verifier(self.name, self.key_id, public)

    @property
    def vkey(self) -> str:
        """The matching verifier key string, safe to publish."""
        return self.verifier.vkey

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message`` (RFC 8032; deterministic)."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate_key(name: str) -> tuple[str, str]:
    """Create a new Ed25519 key named ``name``; returns ``(skey, vkey)`` strings."""
    check_key_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    public = _public_bytes(private.public_key())
    signer = Signer(name, key_id(name, public), seed)
    return signer.skey, signer.vkey


def write_key_file(path: str | os.PathLike[str], skey: str) -> Path:
    """Write a signer key to a new file readable by its owner only (mode 0600).

    Refuses to overwrite an existing file: losing the audit signing key silently is worse than
    an error. The mode is set at creation (``O_EXCL``), so the key is never briefly readable.
    """
    Signer.from_skey(skey)  # refuse to store something that is not a valid key
    target = Path(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditError(
            f"refusing to overwrite the existing key file {target}; move it away first if you "
            "really mean to replace the audit signing key"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(skey.strip() + "\n")
    return target


def read_key_file(path: str | os.PathLike[str]) -> str:
    """Read a signer key file, refusing one that the group or other users can read or write."""
    target = Path(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        raise AuditError(f"audit signing key file {target} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditError(
            f"audit signing key file {target} is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {target}"
        )
    skey = target.read_text(encoding="utf-8").strip()
    try:
        Signer.from_skey(skey)
    except NoteFormatError as exc:
        raise AuditError(f"audit signing key file {target} does not hold a valid signer key: {exc}") from None
    return skey
