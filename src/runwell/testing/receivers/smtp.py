"""A local SMTP server (aiosmtpd, a test dependency) that keeps every message it accepts."""

from __future__ import annotations

import asyncio
import hmac
import ssl
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from runwell.errors import ConfigError

__all__ = ["ReceivedEmail", "SmtpReceiver"]


@dataclass(frozen=True, slots=True)
class ReceivedEmail:
    """One message as the SMTP receiver accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    headers: dict[str, str]
    body: str
    tls: bool
    user: str | None
    at: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class SmtpReceiver:
    """A local SMTP server (aiosmtpd) in the running event loop.

    ``tls=True`` offers STARTTLS with a fresh self-signed certificate for ``127.0.0.1`` and
    ``localhost`` (clients trust it through :meth:`client_ssl_context`); ``users`` (name →
    password) requires AUTH, which needs ``tls``.
    """

    channel = "email"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        users: Mapping[str, str] | None = None,
    ) -> None:
        if users and not tls:
            raise ConfigError("SmtpReceiver: AUTH without TLS would take passwords in clear; pass tls=True")
        self.host, self.port, self.tls = host, port, tls
        self.users = dict(users or {})
        self.received: list[ReceivedEmail] = []
        self._faults: deque[tuple[int, str]] = deque()
        self._server: asyncio.Server | None = None
        self._cert_pem = ""
        self._server_ctx: ssl.SSLContext | None = None

    def fail_next(self, count: int = 1, *, code: int = 451, message: str = "4.3.0 Try again later") -> None:
        """Answer the DATA of the next ``count`` messages with ``code`` (4xx: transient)."""
        self._faults.extend((code, message) for _ in range(count))

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this receiver's certificate (and only it)."""
        if not self._cert_pem:
            raise ConfigError("SmtpReceiver was started without tls=True; it has no certificate")
        return ssl.create_default_context(cadata=self._cert_pem)

    def snapshot(self) -> dict[str, Any]:
        """Everything received, JSON-ready."""
        return {self.channel: [m.to_json() for m in self.received]}

    def reset(self) -> None:
        """Forget what was received and any armed fault."""
        self.received.clear()
        self._faults.clear()

    async def start(self) -> SmtpReceiver:
        """Listen; ``port`` then holds the real port."""
        try:
            from aiosmtpd.smtp import SMTP
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigError(
                "SmtpReceiver needs the aiosmtpd package (runwell's test extra): pip install aiosmtpd"
            ) from None
        if self.tls:
            self._server_ctx, self._cert_pem = _self_signed_context()
        loop = asyncio.get_running_loop()
        handler = _SmtpHandler(self)
        self._server = await loop.create_server(
            lambda: SMTP(
                handler,
                hostname="runwell-receiver",
                tls_context=self._server_ctx,
                require_starttls=self.tls,
                authenticator=self._authenticate if self.users else None,
                auth_required=bool(self.users),
                loop=loop,
            ),
            self.host,
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _authenticate(self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(data, LoginPassword):
            user = data.login.decode("utf-8", "replace")
            expected = self.users.get(user, "").encode()
            if expected and hmac.compare_digest(expected, data.password):
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    async def close(self) -> None:
        """Stop listening."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> SmtpReceiver:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _SmtpHandler:
    def __init__(self, owner: SmtpReceiver) -> None:
        self.owner = owner

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        if self.owner._faults:
            code, message = self.owner._faults.popleft()
            return f"{code} {message}"
        raw = envelope.original_content or envelope.content or b""
        msg = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        part = msg.get_body(("plain",))
        self.owner.received.append(
            ReceivedEmail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                subject=str(msg["Subject"] or ""),
                headers={k.lower(): str(v) for k, v in msg.items()},
                body=part.get_content() if part is not None else "",
                tls=session.ssl is not None,
                user=session.auth_data if session.authenticated else None,
                at=time.time(),
            )
        )
        return "250 Message accepted for delivery"


def _self_signed_context() -> tuple[ssl.SSLContext, str]:
    """A server context with a fresh self-signed certificate, and the certificate's PEM."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runwell test receiver")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only; the directory (and the key in it) is gone right after.
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_text(cert_pem)
        key_file.write_bytes(key_pem)
        ctx.load_cert_chain(cert_file, key_file)
    return ctx, cert_pem
