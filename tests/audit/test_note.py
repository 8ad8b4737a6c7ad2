"""C2SP signed notes, tlog checkpoints and keys, checked against golang.org/x/mod/sumdb/note."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runwell.audit import (
    AuditError,
    BadSignatureError,
    Checkpoint,
    NoteFormatError,
    Signer,
    UnknownKeyError,
    Verifier,
    generate_key,
    open_note,
    read_key_file,
    sign_note,
    write_key_file,
)
from runwell.audit.note import parse_note
from runwell.audit.signer import key_id

# golang.org/x/mod/sumdb/note note_test.go
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def test_go_verifier_key_parses_with_the_same_key_id() -> None:
    verifier = Verifier.from_vkey(PETER_VKEY)
    assert (verifier.name, verifier.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert key_id("PeterNeumann", verifier.public_key) == 0xC74F20A3
    assert verifier.vkey == PETER_VKEY


def test_go_signer_key_gives_the_go_verifier_key() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert signer.vkey == PETER_VKEY
    assert signer.skey == PETER_SKEY
    assert "AYEK" not in repr(signer)  # the seed never shows up in logs


def test_signing_reproduces_the_go_note_byte_for_byte() -> None:
    assert sign_note(TEXT, PETER_SKEY) == TEXT + "\n" + PETER_SIG


def test_opening_the_go_note() -> None:
    assert open_note(TEXT + "\n" + PETER_SIG, [PETER_VKEY]) == TEXT
    # A signature by an unknown key is ignored; both known: both verified.
    assert open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_VKEY]) == TEXT
    assert open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_VKEY, ENOCH_VKEY]) == TEXT
    assert open_note(TEXT + "\n" + ENOCH_SIG, [ENOCH_VKEY]) == TEXT


def test_a_note_without_a_trusted_signature_is_rejected() -> None:
    with pytest.raises(UnknownKeyError, match="no signature from a trusted key"):
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(UnknownKeyError):
        open_note(TEXT + "\n" + ENOCH_SIG, [PETER_VKEY])


def test_a_bad_signature_from_a_trusted_key_rejects_the_note() -> None:
    tampered = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(BadSignatureError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(tampered, [PETER_VKEY])
    with pytest.raises(BadSignatureError):
        open_note(TEXT.replace("problem", "Problem") + "\n" + PETER_SIG, [PETER_VKEY])


@pytest.mark.parametrize(
    "bad",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
        TEXT + "\n" + "— PeterNeumann AAAA\n",
    ],
)
def test_malformed_notes_are_rejected(bad: str) -> None:
    with pytest.raises(NoteFormatError):
        open_note(bad, [PETER_VKEY])


def test_mangled_verifier_keys_are_rejected() -> None:
    # As note_test.go's TestNewVerifier: every proper substring and every one-byte change fails.
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(NoteFormatError):
                    Verifier.from_vkey(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(NoteFormatError):
            Verifier.from_vkey(mangled)


def test_mangled_signer_keys_are_rejected() -> None:
    for i in range(len(PETER_SKEY)):
        mangled = PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1 :]
        with pytest.raises(NoteFormatError):
            Signer.from_skey(mangled)


def test_generated_keys_sign_and_verify() -> None:
    skey, vkey = generate_key("example.com/audit")
    assert skey.startswith("PRIVATE+KEY+example.com/audit+")
    assert vkey.split("+")[:2] == skey.split("+")[2:4]
    note = sign_note("hello\n", skey)
    assert open_note(note, [vkey]) == "hello\n"
    _, other_vkey = generate_key("example.com/audit")
    with pytest.raises(UnknownKeyError):  # same name, other key: a different key id
        open_note(note, [other_vkey])


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteFormatError, match="invalid key name"):
        generate_key(name)


def test_note_text_must_end_in_newline_and_hold_no_controls() -> None:
    with pytest.raises(NoteFormatError, match="newline"):
        sign_note("no newline", PETER_SKEY)
    with pytest.raises(NoteFormatError, match="control character"):
        sign_note("bell\x07\n", PETER_SKEY)


def test_parse_note_returns_text_and_signatures() -> None:
    text, sigs = parse_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert text == TEXT
    assert [(s.name, s.key_id) for s in sigs] == [("PeterNeumann", 0xC74F20A3), ("EnochRoot", 0xAF0CFE78)]


# --- Checkpoints ---------------------------------------------------------------------------

ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


def test_checkpoint_body_format() -> None:
    body = Checkpoint("runwell.example/audit", 8, ROOT).to_body()
    assert body == "runwell.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    assert Checkpoint.parse(body) == Checkpoint("runwell.example/audit", 8, ROOT)


def test_checkpoint_round_trips_through_a_signed_note() -> None:
    checkpoint = Checkpoint("PeterNeumann", 123456, ROOT, ("extension line",))
    note = sign_note(checkpoint.to_body(), PETER_SKEY)
    assert Checkpoint.parse(open_note(note, [PETER_VKEY])) == checkpoint


@pytest.mark.parametrize(
    "body",
    [
        "origin\n8\n",
        "origin\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "origin\n-8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "origin\n８\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "origin\n8\nnot base64!\n",
        "origin\n8\nAAAA\n",
        "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "origin\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
    ],
)
def test_malformed_checkpoints_are_rejected(body: str) -> None:
    with pytest.raises(NoteFormatError):
        Checkpoint.parse(body)


# --- Key files -----------------------------------------------------------------------------


def test_key_file_is_created_owner_only_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    write_key_file(path, PETER_SKEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == PETER_SKEY


def test_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    write_key_file(path, PETER_SKEY)
    skey, _ = generate_key("other")
    with pytest.raises(AuditError, match="refusing to overwrite"):
        write_key_file(path, skey)
    assert read_key_file(path) == PETER_SKEY


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit.key"
    write_key_file(path, PETER_SKEY)
    os.chmod(path, mode)
    with pytest.raises(AuditError, match="chmod 600"):
        read_key_file(path)


def test_key_file_must_hold_a_key(tmp_path: Path) -> None:
    with pytest.raises(NoteFormatError):
        write_key_file(tmp_path / "a.key", "not a key")
    garbage = tmp_path / "b.key"
    garbage.write_text("PRIVATE+KEY+x+00000000+AAAA\n")
    garbage.chmod(0o600)
    with pytest.raises(AuditError, match="does not hold a valid signer key"):
        read_key_file(garbage)
    with pytest.raises(AuditError, match="does not exist"):
        read_key_file(tmp_path / "missing.key")
