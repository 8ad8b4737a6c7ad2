"""``runwell audit``: keys, checkpoints, export, proofs, verification and "why did it decide this?"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, echo_json, wants_json
from runwell.cli._store_opt import DbOption, DirOption, fail, opened_store

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog

__all__ = ["register"]

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Signing key file (default: $RUNWELL_AUDIT_KEY_FILE or DIR/.runwell/audit.key)",
        show_default=False,
    ),
]


@contextmanager
def _opened_log(db: str | None, project_dir: Path, key: Path | None) -> Iterator[AuditLog]:
    """The project's audit log (its key must exist), closed on exit."""
    from runwell.audit.errors import AuditError
    from runwell.audit.open import open_audit_log

    try:
        handle = open_audit_log(project_dir, db, key_path=key, create_key=False)
    except AuditError as exc:
        fail(str(exc), code=2)
    try:
        yield handle.log
    finally:
        handle.close()


def keygen(
    name: Annotated[str | None, typer.Option(help="Key name (also the log's origin).")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the key (mode 0600).")] = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Create the Ed25519 signing key and print its verifier key (give that to auditors)."""
    from runwell.audit.errors import AuditError
    from runwell.audit.open import find_key_file, key_name_for
    from runwell.audit.signer import generate_key, write_key_file

    path = out or find_key_file(project_dir)
    skey, vkey = generate_key(name or key_name_for(project_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_key_file(path, skey)
    except (AuditError, FileExistsError) as exc:
        fail(f"{exc} (a key already exists at {path}; runwell never overwrites a signing key)", code=2)
    path.with_suffix(".vkey").write_text(vkey + "\n")
    typer.echo(f"wrote signing key {path} (mode 0600) and verifier key {path.with_suffix('.vkey')}", err=True)
    typer.echo(vkey)


def checkpoint(db: DbOption = None, project_dir: DirOption = Path("."), key: KeyOption = None) -> None:
    """Print the latest signed checkpoint (signing one first if the log has none)."""
    with _opened_log(db, project_dir, key) as log:
        typer.echo(log.latest_checkpoint() or log.checkpoint_now(), nl=False)


def export(
    fmt: Annotated[
        str, typer.Option("--format", help="Only jsonl: one leaf (canonical JSON) per line.")
    ] = "jsonl",
    start: Annotated[int, typer.Option(min=0)] = 0,
    end: Annotated[int | None, typer.Option(min=0, help="Exclusive (default: the log's size)")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Print entries exactly as they are hashed (RFC 8785 canonical JSON), one per line."""
    from runwell.audit.open import open_audit_storage

    if fmt != "jsonl":
        fail(f"--format must be jsonl, got {fmt!r}", code=2)
    storage = open_audit_storage(db, project_dir)
    try:
        stop = storage.size() if end is None else end
        for chunk in range(start, stop, 10_000):
            for leaf in storage.read_leaves(chunk, min(chunk + 10_000, stop)):
                typer.echo(leaf.decode())
    finally:
        storage.close()


def prove(
    index: Annotated[int, typer.Argument(min=0)],
    size: Annotated[int | None, typer.Option(help="Tree size (default: the log's size)")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    key: KeyOption = None,
) -> None:
    """Print (and check) the inclusion proof of entry INDEX, hashes in hex."""
    from runwell.audit.merkle import leaf_hash, verify_inclusion

    with _opened_log(db, project_dir, key) as log:
        n = log.size if size is None else size
        if not index < n <= log.size:
            fail(f"need INDEX < SIZE <= {log.size} (the log's size); got {index} and {n}", code=2)
        proof, root = log.inclusion_proof(index, n), log.root(n)
        lh = leaf_hash(log.leaf(index))
        ok = verify_inclusion(lh, index, n, proof, root)
        typer.echo(
            json.dumps(
                {
                    "index": index,
                    "size": n,
                    "leaf_hash": lh.hex(),
                    "root": root.hex(),
                    "proof": [h.hex() for h in proof],
                    "verified": ok,
                },
                indent=2,
            )
        )


def consistency(
    old: Annotated[int, typer.Argument(metavar="FROM", min=0)],
    new: Annotated[int, typer.Argument(metavar="TO", min=0)],
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    key: KeyOption = None,
) -> None:
    """Print (and check) the consistency proof between tree sizes FROM and TO."""
    from runwell.audit.merkle import verify_consistency

    with _opened_log(db, project_dir, key) as log:
        if not old <= new <= log.size:
            fail(f"need FROM <= TO <= {log.size} (the log's size); got {old} and {new}", code=2)
        proof = log.consistency_proof(old, new)
        r_old, r_new = log.root(old), log.root(new)
        typer.echo(
            json.dumps(
                {
                    "from": old,
                    "to": new,
                    "old_root": r_old.hex(),
                    "new_root": r_new.hex(),
                    "proof": [h.hex() for h in proof],
                    "verified": verify_consistency(old, new, r_old, r_new, proof),
                },
                indent=2,
            )
        )


def verify(
    trusted_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--trusted-checkpoint", help="A signed checkpoint you kept earlier: check only what came after."
        ),
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(help="Verifier key (default: DIR/.runwell/audit.vkey); the private key is not needed."),
    ] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    key: KeyOption = None,
) -> None:
    """Rebuild the tree from the stored entries and check every checkpoint; exit 1 on tampering."""
    from runwell.audit.errors import AuditError
    from runwell.audit.open import find_key_file, open_audit_storage, read_vkey
    from runwell.audit.verify import verify_log

    if vkey is None:
        key_file = find_key_file(project_dir, key)
        if not key_file.exists() and not key_file.with_suffix(".vkey").exists():
            fail(f"no verifier key: pass --vkey or keep {key_file.with_suffix('.vkey')}", code=2)
        vkey = read_vkey(key_file)
    trusted = trusted_checkpoint.read_text() if trusted_checkpoint else None
    storage = open_audit_storage(db, project_dir)
    try:
        report = verify_log(storage, vkey, trusted)
    except AuditError as exc:
        fail(str(exc), code=2)
    finally:
        storage.close()
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


def explain(
    request_id: Annotated[str, typer.Argument(help="The request id (x-request-id).")],
    spec: Annotated[
        Path | None, typer.Option(help="The feature's runwell.yaml, for the prompt text.")
    ] = None,
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    key: KeyOption = None,
) -> None:
    """Why did the model decide this? The entry, its proof, the prompt and the stored exchange."""
    from runwell.audit.explain import explain_request

    with _opened_log(db, project_dir, key) as log, opened_store(db, project_dir) as store:
        report = explain_request(log, store, request_id, spec or (project_dir / "runwell.yaml"))
    if report is None:
        fail(
            f"no audit entry for request {request_id!r}; only requests that reached a model "
            "(or were answered instead of one) are in the audit log"
        )
    if wants_json(fmt, as_json):
        echo_json(report)
        return
    from runwell.audit.explain import render_text

    typer.echo(render_text(report))


def register(root: typer.Typer) -> None:
    """Mount ``runwell audit``."""
    app = typer.Typer(name="audit", help="The signed, tamper-evident audit log.", no_args_is_help=True)
    for name, fn in (
        ("keygen", keygen),
        ("checkpoint", checkpoint),
        ("export", export),
        ("prove", prove),
        ("consistency", consistency),
        ("verify", verify),
        ("explain", explain),
    ):
        app.command(name)(fn)
    root.add_typer(app)
