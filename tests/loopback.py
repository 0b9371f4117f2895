"""Real peers on 127.0.0.1 for channel tests: an SMTP server (aiosmtpd) and an HTTP server (stdlib).

    with LoopbackSMTP(security="starttls", users={"robot": "pw"}) as smtp: ...
        smtp.port, smtp.client_context (trusts the self-signed cert), smtp.messages, smtp.connections
    with LoopbackHTTP() as http: ...
        http.url("/robot/send?access_token=t"), http.requests, http.reply(200, {...}), http.responder = fn

Both also come as pytest fixtures (`smtp_server`, `http_server`) when a conftest or test module imports them.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import logging
import socket
import ssl
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# --- a self-signed certificate for 127.0.0.1 / localhost, made once per test run


@lru_cache(maxsize=1)
def self_signed_cert() -> tuple[Path, Path, str]:
    """(certificate file, key file, certificate PEM); EC keys because RSA generation is slow."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = Path(tempfile.mkdtemp(prefix="campaignflow-cert-"))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "cert.pem").write_text(pem)
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem", pem


def server_context() -> ssl.SSLContext:
    cert, key, _ = self_signed_cert()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context() -> ssl.SSLContext:
    """Trusts exactly the loopback certificate, with hostname checking on: the real verification path."""
    return ssl.create_default_context(cadata=self_signed_cert()[2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    connection: int  # which connection (1, 2, ...) carried it
    login: str | None


class _Recorder:
    """aiosmtpd handler: stores every envelope; refuses the recipients listed in `refuse`."""

    def __init__(self, owner: LoopbackSMTP):
        self.owner = owner

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.owner.refuse:
            return self.owner.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.owner.lock:
            self.owner.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                                                server.connection_number, login))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def __init__(self, owner: LoopbackSMTP, **kwargs: Any):
        super().__init__(_Recorder(owner), **kwargs)
        self.owner = owner

    def factory(self):
        # aiosmtpd builds one SMTP protocol object per connection: the place to count connections
        with warnings.catch_warnings():
            # AUTH without STARTTLS is what implicit TLS and the plain loopback need; aiosmtpd warns
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            smtpd = super().factory()
        with self.owner.lock:
            self.owner.connections += 1
            smtpd.connection_number = self.owner.connections
        return smtpd


class LoopbackSMTP:
    def __init__(self, security: str = "none", users: dict[str, str] | None = None, idle_timeout: float = 30.0):
        # aiosmtpd logs its own advice (AUTH without TLS, deprecated login_data) as warnings: noise here
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.security = security
        self.users = users
        self.refuse: dict[str, str] = {}  # address -> reply, e.g. "550 5.1.1 no such user"
        self.received: list[Received] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.client_context = client_context()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port, "server_hostname": "localhost",
                                  "timeout": idle_timeout,
                                  # implicit TLS is invisible to aiosmtpd's check, which only knows STARTTLS
                                  "auth_require_tls": security == "starttls"}
        if users is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
        if security == "ssl":
            kwargs["ssl_context"] = server_context()
        elif security == "starttls":
            kwargs["tls_context"] = server_context()
            kwargs["require_starttls"] = True
        self._controller = _Controller(self, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and self.users is not None
              and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(r.content, policy=email.policy.default) for r in self.received]

    def start(self) -> LoopbackSMTP:
        self._controller.start()
        with self.lock:
            # the controller opened one connection itself to check that the server is up
            self.connections = 0
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- HTTP


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None


@dataclass
class _Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})


class LoopbackHTTP:
    """Records each request; answers `reply(...)`'s status and JSON body, or whatever `responder` returns."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.responder: Callable[[Request], tuple[int, Any]] | None = None
        self._reply = _Reply()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the channels' pooled clients expect
            timeout = 10

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                request = Request(self.command, parts.path, dict(parse_qsl(parts.query)),
                                  {k.lower(): v for k, v in self.headers.items()}, body, parsed)
                owner.requests.append(request)
                status, answer = owner.responder(request) if owner.responder else (
                    owner._reply.status, owner._reply.body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # keep-alive handler threads must not block shutdown
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, status: int = 200, body: Any = None) -> None:
        self._reply = _Reply(status, {"errcode": 0, "errmsg": "ok"} if body is None else body)

    def start(self) -> LoopbackHTTP:
        # a short poll interval: shutdown() waits for the loop to notice, 0.5 s by default
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def smtp_server():
    with LoopbackSMTP() as server:
        yield server


@pytest.fixture
def http_server():
    with LoopbackHTTP() as server:
        yield server
