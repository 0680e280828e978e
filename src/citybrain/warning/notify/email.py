"""Email notifier: one bilingual multipart/alternative message (plain text + simple HTML) over SMTP.

The ``Message-ID`` is derived from the notification id, so a retry that reaches the mailbox twice is
recognisably the same message; ``References`` names the warning group, so mail clients thread the
firing and resolved messages of one group together. Headers are UTF-8, RFC 2047-encoded.

>>> from datetime import UTC, datetime
>>> n = Notification(id="ntf-7", group_key="g7", receiver="urban", status="firing", level=2,
...                  title_zh="燃气泄漏", title_en="Gas leak", body_zh="", body_en="", warnings=(),
...                  link="/warnings/groups/g7", created_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
>>> subject(n)
'[橙色预警 II] 燃气泄漏 / Orange warning II: Gas leak'
>>> message_id(n, "city.example")
'<citybrain.ntf-7@city.example>'
"""

from __future__ import annotations

import hashlib
import html
import re
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from typing import Any, ClassVar
from urllib.parse import urlsplit

from citybrain.core.clock import SHANGHAI
from citybrain.warning.notify.base import (
    ConfigReader,
    Notification,
    Notifier,
    NotifyConfigError,
    NotifyError,
    NotifyPermanent,
    NotifyTransient,
)
from citybrain.warning.types import Level

_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_COLOURS = {1: "#d4380d", 2: "#fa8c16", 3: "#fadb14", 4: "#1677ff"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject(n: Notification) -> str:
    """``[橙色预警 II] 燃气泄漏 / Orange warning II: Gas leak``; resolved ones say so in both languages."""
    zh, en = _one_line(n.title_zh), _one_line(n.title_en)
    if n.level is None:
        tag_zh, tag_en = "预警", "Warning"
    else:
        level = Level(n.level)
        tag_zh, tag_en = f"{level.name_zh}预警 {level.roman}", f"{level.colour.capitalize()} warning {level.roman}"
    if n.status == "resolved":
        tag_zh, tag_en = f"{tag_zh} 已解除", f"Resolved, {tag_en[0].lower()}{tag_en[1:]}"
    return f"[{tag_zh}] {zh or en} / {tag_en}: {en or zh}"


def _msg_id_part(value: str) -> str:
    """``value`` if it is a valid msg-id left part, else a digest of it (still stable)."""
    if _ATOM.match(value) and len(value) <= 64:
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def message_id(n: Notification, domain: str) -> str:
    """The same for every retry of one notification (RFC 5322 ``msg-id``)."""
    return f"<citybrain.{_msg_id_part(n.id)}@{domain}>"


def group_message_id(n: Notification, domain: str) -> str:
    """A synthetic id naming the warning group, referenced by each of its messages so clients thread them."""
    return f"<citybrain.group.{_msg_id_part(n.group_key)}@{domain}>"


def _check_address(value: str) -> str | None:
    name, addr = parseaddr(value)
    if any(c in value for c in "\r\n") or not addr or addr.count("@") != 1:
        return "is not an email address"
    local, _, domain = addr.partition("@")
    if not local or "." not in domain or not addr.isascii():
        return "is not an ASCII email address (user@example.org)"
    return None


def _check_base_url(value: str) -> str | None:
    parts = urlsplit(value)
    return None if parts.scheme in ("http", "https") and parts.hostname else "must be an http or https URL"


def _local(ts: str) -> str:
    """An ISO instant shown in Shanghai time, the way the dashboard shows it."""
    try:
        when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    if when.tzinfo is None:
        return ts
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (UTC+8)")


def _level_label(level: Any) -> str:
    try:
        lv = Level.parse(level)
    except ValueError:
        return "—"
    return f"{lv.name_zh} {lv.roman} / {lv.colour}"


def _warning_line(w: Mapping[str, Any]) -> str:
    labels = w.get("labels") or {}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) if isinstance(labels, Mapping) else ""
    parts = [_level_label(w.get("level")), str(w.get("state", "")), _local(str(w.get("starts_at", "")))]
    return f"{' · '.join(p for p in parts if p)}" + (f" · {shown}" if shown else "") + f" ({w.get('id', '')})"


class EmailNotifier(Notifier):
    """Sends each notification as one email to a fixed list of addresses (a department's duty mailbox).

    Config: ``host`` (required), ``port`` (default 465 with ``ssl``, 587 with ``starttls``, else 25),
    ``ssl`` (implicit TLS, default false), ``starttls`` (default true unless ``ssl``), ``username`` and
    ``password`` (together, only over TLS), ``from`` and ``to`` (required; ``to`` a list),
    ``timeout_s`` (default 10), ``dashboard_url`` (makes the group link absolute).
    """

    kind: ClassVar[str] = "email"
    secret_keys: ClassVar[frozenset[str]] = frozenset({"password"})

    def __init__(self, config: Mapping[str, Any]) -> None:
        r = ConfigReader(config)
        self.host: str = r.text("host", required=True)
        self.ssl = r.flag("ssl", default=False)
        self.starttls = r.flag("starttls", default=not self.ssl)
        if self.ssl and self.starttls:
            raise NotifyConfigError("starttls", "cannot be combined with ssl (implicit TLS); choose one")
        self.port: int = r.number("port", default=465 if self.ssl else 587 if self.starttls else 25,
                                  minimum=1, maximum=65535, integer=True)
        self.username: str | None = r.text("username")
        self.password: str | None = r.text("password")
        if (self.username is None) != (self.password is None):
            raise NotifyConfigError("password" if self.username else "username", "username and password go together")
        if self.username and not (self.ssl or self.starttls):
            raise NotifyConfigError("starttls", "credentials would travel in clear text; enable starttls or ssl")
        self.sender: str = r.text("from", required=True, check=_check_address)
        self.to: list[str] = r.texts("to", required=True, check=_check_address)
        self.timeout_s: float = r.number("timeout_s", default=10.0, minimum=0.1, maximum=300.0)
        self.dashboard_url: str | None = r.text("dashboard_url", check=_check_base_url)
        self.config = r.finish()
        self.domain = parseaddr(self.sender)[1].rpartition("@")[2].lower()

    # -- composing ---------------------------------------------------------------------------------

    def link(self, n: Notification) -> str:
        if self.dashboard_url and n.link.startswith("/"):
            return self.dashboard_url.rstrip("/") + n.link
        return n.link

    def message(self, n: Notification) -> EmailMessage:
        """The message :meth:`send` submits (separate so tests and previews can read it)."""
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["Subject"] = subject(n)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = format_datetime(n.created_at.astimezone(SHANGHAI))
        msg["Message-ID"] = message_id(n, self.domain)
        msg["References"] = group_message_id(n, self.domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the sender
        msg["X-Citybrain-Delivery"] = _one_line(n.id)
        msg["X-Citybrain-Group"] = _one_line(n.group_key)
        msg.set_content(self._text(n), charset="utf-8")
        msg.add_alternative(self._html(n), subtype="html", charset="utf-8")
        return msg

    def _text(self, n: Notification) -> str:
        lines = [_one_line(n.title_zh), n.body_zh, "", _one_line(n.title_en), n.body_en, ""]
        if n.warnings:
            lines.append(f"预警 / Warnings ({len(n.warnings)}):")
            lines += [f"- {_warning_line(w)}" for w in n.warnings]
            lines.append("")
        lines.append(f"详情 / Details: {self.link(n)}")
        return "\n".join(lines).strip() + "\n"

    def _html(self, n: Notification) -> str:
        e = html.escape
        colour = _COLOURS.get(n.level or 0, "#595959")
        items = "".join(f"<li>{e(_warning_line(w))}</li>" for w in n.warnings)
        return (
            '<!doctype html><html><body style="font-family:sans-serif">'
            f'<p style="border-left:6px solid {colour};padding-left:8px"><strong>{e(subject(n))}</strong></p>'
            f'<h2 lang="zh-CN">{e(n.title_zh)}</h2><p lang="zh-CN">{e(n.body_zh)}</p>'
            f'<h2 lang="en">{e(n.title_en)}</h2><p lang="en">{e(n.body_en)}</p>'
            + (f"<ul>{items}</ul>" if items else "")
            + f"<p>{self._anchor(n)}</p></body></html>\n"
        )

    def _anchor(self, n: Notification) -> str:
        link = self.link(n)
        if not (link.startswith("/") or urlsplit(link).scheme in ("http", "https")):
            return f"详情 / Details: {html.escape(link)}"  # never a javascript: or data: href
        return f'<a href="{html.escape(link, quote=True)}">详情 / Details</a>'

    # -- sending -----------------------------------------------------------------------------------

    def send(self, n: Notification) -> None:
        msg = self.message(n)
        recipients = [parseaddr(t)[1] for t in self.to]
        try:
            refused = self._submit(msg, recipients)
        except Exception as e:
            raise _classify(e, f"{self.host}:{self.port}") from e
        if refused:
            # Some recipients have it already; a retry would send them a duplicate, so someone must act.
            bad = ", ".join(f"{addr} ({code} {_decode(text)})" for addr, (code, text) in sorted(refused.items()))
            raise NotifyPermanent(f"{self.host}:{self.port} refused {bad}; the other recipients got it")

    def _submit(self, msg: EmailMessage, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None and self.password is not None:
                smtp.login(self.username, self.password)
            sender = parseaddr(self.sender)[1]
            return smtp.send_message(msg, from_addr=sender, to_addrs=recipients)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _classify(e: Exception, where: str) -> NotifyError:
    """SMTP 4xx and network trouble are transient; SMTP 5xx, refused credentials and missing TLS are not."""
    if isinstance(e, NotifyError):
        return e
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        codes = {code for code, _ in e.recipients.values()}
        detail = "; ".join(f"{a}: {c} {_decode(t)}" for a, (c, t) in sorted(e.recipients.items()))
        kind = NotifyTransient if codes and all(400 <= c < 500 for c in codes) else NotifyPermanent
        return kind(f"{where} refused every recipient: {detail}")
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return NotifyPermanent(f"{where}: {e} (check starttls/ssl and credentials)")
    if isinstance(e, smtplib.SMTPResponseException):  # sender/data/connect/helo/auth refusals carry a code
        text = f"{where} answered {e.smtp_code} {_decode(e.smtp_error)}"
        return NotifyTransient(text) if 400 <= e.smtp_code < 500 else NotifyPermanent(text)
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return NotifyTransient(f"{where}: {e or 'connection closed'}")
    if isinstance(e, smtplib.SMTPException):  # e.g. no authentication method in common
        return NotifyPermanent(f"{where}: {e}")
    if isinstance(e, ssl.SSLCertVerificationError):
        return NotifyPermanent(f"{where}: TLS certificate refused: {e.verify_message or e}")
    if isinstance(e, OSError):  # refused, reset, timeout, DNS, TLS handshake
        return NotifyTransient(f"{where}: {e or type(e).__name__}")
    return NotifyTransient(f"{where}: {type(e).__name__}: {e}")


__all__ = ["EmailNotifier", "group_message_id", "message_id", "subject"]
