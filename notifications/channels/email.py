"""Email over SMTP (implicit TLS, STARTTLS or plain), one connection kept open across sends.

The Message-ID is derived from the digest's message_id, so a message sent again after a crash
(between the send and its record in the outbox) carries the same ID and mail clients fold the two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import smtplib
import ssl
import threading
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

from .base import DeliveryError, Message

SECURITY = ("ssl", "starttls", "none")
_FAILURES = (smtplib.SMTPException, OSError, ValueError)  # OSError covers refused, reset, timeout, TLS
_MSGID_SAFE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$")


class EmailChannel:
    kind = "email"

    def __init__(self, name: str, host: str, port: int, security: str, username: str | None = None,
                 password: str | None = None, *, sender: str, timeout: float = 10.0,
                 ssl_context: ssl.SSLContext | None = None, verify: bool = True,
                 local_hostname: str | None = None):
        """`verify=False` accepts any server certificate: only for tests or an intranet relay with a
        self-signed certificate; prefer passing an `ssl_context` that trusts the intranet's CA."""
        if security not in SECURITY:
            raise ValueError(f"security must be one of {SECURITY}, not {security!r}")
        if not (username or "").isascii() or not (password or "").isascii():
            # smtplib encodes AUTH credentials as ASCII; failing here beats failing on every send
            raise ValueError(f"email '{name}': SMTP username and password must be ASCII")
        self.name = name
        self.host, self.port, self.security = host, port, security
        self._username, self._password = username, password
        self.sender = sender
        self._envelope_from = parseaddr(sender)[1] or sender
        display, address = parseaddr(sender)
        self._from_header = formataddr((str(Header(display, "utf-8")) if display and not display.isascii() else display,
                                        address or sender))
        self._domain = self._envelope_from.rpartition("@")[2] or "campaignflow.invalid"
        self.timeout = timeout
        self._context = ssl_context or self._default_context(verify)
        self._local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()  # one SMTP conversation at a time on the shared connection

    def __repr__(self) -> str:
        return f"<EmailChannel name={self.name!r} kind='email'>"

    @staticmethod
    def _default_context(verify: bool) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def accepts(self, message: Message) -> bool:
        return bool(message.emails)

    def compose(self, message: Message) -> EmailMessage | MIMEBase:
        # the compat32 MIME classes, with RFC 2047 headers made by email.header: several times cheaper
        # than EmailMessage's header registry, and what bounds a tick's throughput on a busy server
        text = MIMEText(message.text, "plain", "utf-8")
        mail: MIMEBase = text
        if message.html:
            mail = MIMEMultipart("alternative")
            mail.attach(text)
            mail.attach(MIMEText(message.html, "html", "utf-8"))
        mail["Subject"] = Header(message.subject, "utf-8", header_name="Subject").encode()
        mail["From"] = self._from_header
        for address in message.emails:
            Address(addr_spec=address)  # refuses what is no address (ValueError): a person must fix it
        mail["To"] = ", ".join(message.emails)
        mail["Date"] = self._date(message.at_iso)
        mail["Message-ID"] = f"<{self._msgid_local(message.message_id)}@{self._domain}>"
        return mail

    @staticmethod
    def _date(at_iso: str) -> str:
        # the tick's instant (never the clock), so a replayed tick writes the same Date; a message
        # without one cannot be composed (ValueError: refused, not retried)
        at = dt.datetime.fromisoformat(at_iso)
        return format_datetime(at if at.tzinfo else at.replace(tzinfo=dt.UTC))

    @staticmethod
    def _msgid_local(message_id: str) -> str:
        safe = message_id.strip(".")
        if safe and _MSGID_SAFE.match(safe) and ".." not in safe:
            return f"{safe}.campaignflow"
        return hashlib.sha256(message_id.encode()).hexdigest()[:32] + ".campaignflow"

    def send(self, message: Message) -> None:
        if not self.accepts(message):
            raise DeliveryError(f"email '{self.name}': {message.recipient} 没有邮箱地址 (no email address)",
                                retryable=False)
        try:
            mail = self.compose(message)
        except (ValueError, TypeError) as exc:  # an address that is no address: fixing it takes a person
            raise DeliveryError(f"email '{self.name}': 邮件无法生成 (cannot compose: {exc})", retryable=False) from None
        with self._lock:
            reused = self._smtp is not None
            try:
                self._deliver(mail, message.emails)
            except _FAILURES as exc:
                stale = isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError)) or (
                    isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421)
                if not (reused and stale):
                    raise self._error(exc) from None
                # the server dropped the idle connection (timeout, restart): one fresh attempt
                self._drop()
                try:
                    self._deliver(mail, message.emails)
                except _FAILURES as again:
                    raise self._error(again) from None

    def _deliver(self, mail: EmailMessage | MIMEBase, to: list[str]) -> None:
        smtp = self._connection()
        try:
            refused = smtp.send_message(mail, from_addr=self._envelope_from, to_addrs=to)
        except smtplib.SMTPRecipientsRefused:
            raise  # smtplib reset the transaction: the connection stays usable
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # "service closing transmission channel"
                self._drop()
            raise
        except BaseException:
            self._drop()  # a timeout or broken socket leaves the conversation in an unknown state
            raise
        if refused:
            # some got it: a retry would repeat it to them, so the refusal is reported, not retried
            raise _PartlyRefused(refused)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        if self.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self._local_hostname,
                                                  timeout=self.timeout, context=self._context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._context)
            if self._username:
                smtp.login(self._username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        with self._lock:
            if self._smtp is not None:
                try:
                    self._smtp.quit()
                except (smtplib.SMTPException, OSError):
                    pass
                self._drop()

    def _error(self, exc: BaseException) -> DeliveryError:
        where = f"email '{self.name}' ({self.host}:{self.port})"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            what, retryable = f"登录被拒绝 (authentication failed: {_reply(exc)})", 400 <= exc.smtp_code < 500
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            listed = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
            what, retryable = f"收件人被拒绝 (recipients refused: {listed})", all(400 <= c < 500 for c in codes)
            if isinstance(exc, _PartlyRefused):
                what, retryable = f"部分{what}，其余已送达 (the others got it)", False
        elif isinstance(exc, smtplib.SMTPResponseException):
            what, retryable = f"服务器拒绝 (server replied {_reply(exc)})", 400 <= exc.smtp_code < 500
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            what, retryable = f"服务器不支持所需功能 (not supported: {exc})", False
        elif isinstance(exc, ssl.SSLCertVerificationError):
            what, retryable = f"服务器证书校验失败 (certificate verification failed: {exc.verify_message})", False
        elif isinstance(exc, TimeoutError):
            what, retryable = "连接超时 (timed out)", True
        elif isinstance(exc, (OSError, smtplib.SMTPException)):
            what, retryable = f"连接失败 (connection failed: {type(exc).__name__}: {exc})", True
        else:
            what, retryable = f"发送失败 ({type(exc).__name__}: {exc})", False
        if self._password:
            what = what.replace(self._password, "***")
        return DeliveryError(f"{where}: {what}", retryable=retryable)


class _PartlyRefused(smtplib.SMTPRecipientsRefused):
    pass


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"
