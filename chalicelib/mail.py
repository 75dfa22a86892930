"""E-mail (pure): SES receiving notifications read, MIME mail parsed to what the customer wrote, addresses
normalised and masked, and threaded replies written. Standard library only (``email``, ``policy.default``).

Nothing here raises on a customer's mail, however broken: only an unreadable SES notification is refused
(:class:`MailRejected`).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses

from chalicelib import clock
from chalicelib.mail_text import (
    AUTO_SUBJECT,
    BOUNCE_SUBJECT,
    MAX_SUBJECT,
    PREFIX,
    InvalidAddress,
    html_to_text,
    is_address,
    leading_code,
    mask_address,
    normalise_address,
    reply_subject,
    squeeze,
    strip_reply,
    unflow,
    wants_unsubscribe,
)

__all__ = [
    "MAX_RAW_BYTES", "MAX_TEXT_CHARS", "InvalidAddress", "Mail", "MailRejected", "Notification", "is_address",
    "leading_code", "mask_address", "normalise_address", "parse", "read_notification", "reply_message",
    "reply_subject", "suspect", "wants_unsubscribe",
]

MAX_TEXT_CHARS = 1600  # the text kept of a mail (the SMS limit); the rest dropped, `truncated` says so
MAX_RAW_BYTES = 10 * 1024 * 1024
_MAX_BODY_CHARS = 64 * 1024  # decoded text looked at before quotes are cut: enough for any reply, linear work
_MAX_HTML_CHARS = 512 * 1024
_MAX_PARTS = 200
_MAX_DEPTH = 12
_MAX_NAME = 100
_MAX_REFERENCES = 10

VERDICTS = ("spam", "virus", "spf", "dkim", "dmarc")
_SUSPECT_ORDER = ("virus", "spam", "dmarc", "spf", "dkim")
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes the parser could not read as ASCII
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class MailRejected(ValueError):
    """The SES notification itself cannot be read (not JSON, not a received mail, no message id...)."""


@dataclass(frozen=True)
class Notification:
    """What SES receiving publishes to SNS for one received mail (notificationType ``Received``)."""

    message_id: str
    timestamp: datetime
    source: str
    destination: tuple[str, ...]
    verdicts: Mapping[str, str]
    content: bytes | None
    s3_location: tuple[str, str] | None


def _field(obj: object, name: str, kind: type) -> object:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise MailRejected(f"SES notification without {name}")
    return value


def _envelope_address(value: object) -> str:
    text = value.strip().strip("<>").strip().lower() if isinstance(value, str) else ""
    return text[:320]


def read_notification(sns_message: str) -> Notification:
    """The SES notification in an SNS message (action SNS with the mail's content, or S3 with its place).

    Raises :class:`MailRejected` when it is not a received-mail notification SES could have written."""
    try:
        body = json.loads(sns_message)
    except (TypeError, ValueError) as exc:
        raise MailRejected("SES notification is not JSON") from exc
    if not isinstance(body, dict) or body.get("notificationType") != "Received":
        raise MailRejected("not a received-mail notification")
    mail = _field(body, "mail", dict)
    receipt = _field(body, "receipt", dict)
    message_id = _field(mail, "messageId", str)
    if not _MESSAGE_ID.match(message_id):
        raise MailRejected("SES notification with an unreadable messageId")
    try:
        timestamp = clock.parse_time(str(_field(mail, "timestamp", str)))
    except ValueError as exc:
        raise MailRejected("SES notification with an unreadable timestamp") from exc
    recipients = receipt.get("recipients", mail.get("destination"))
    if not isinstance(recipients, list):
        raise MailRejected("SES notification without recipients")
    destination = tuple(a for a in (_envelope_address(r) for r in recipients[:50]) if a)
    verdicts = {}
    for name in VERDICTS:
        verdict = receipt.get(f"{name}Verdict")
        status = verdict.get("status") if isinstance(verdict, dict) else None
        verdicts[name] = status.strip().upper()[:32] if isinstance(status, str) and status.strip() else "DISABLED"
    action = _field(receipt, "action", dict)
    content, location = None, None
    if action.get("type") == "S3":
        bucket = _field(action, "bucketName", str)
        key = action.get("objectKey")
        if not isinstance(key, str) or not key:
            prefix = action.get("objectKeyPrefix")
            key = (prefix if isinstance(prefix, str) else "") + message_id
        location = (bucket, key)
    elif action.get("type") == "SNS":
        raw = _field(body, "content", str)
        if str(action.get("encoding", "UTF8")).upper() == "BASE64":
            try:
                content = base64.b64decode(raw, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise MailRejected("SES notification with unreadable BASE64 content") from exc
        else:
            content = raw.encode("utf-8", errors="replace")
    else:
        raise MailRejected(f"SES action {str(action.get('type'))[:20]!r} brings no mail")
    return Notification(message_id=message_id, timestamp=timestamp.astimezone(UTC),
                        source=_envelope_address(mail.get("source")), destination=destination,
                        verdicts=verdicts, content=content, s3_location=location)


def suspect(verdicts: Mapping[str, str]) -> str | None:
    """The first check a mail failed ("virus", "spam", "dmarc", "spf", "dkim"): it is stored, never answered."""
    return next((name for name in _SUSPECT_ORDER if str(verdicts.get(name, "")).upper() == "FAIL"), None)


@dataclass(frozen=True)
class Mail:
    """What a customer's mail says, and whether it may be answered (``automatic`` None)."""

    sender: str
    sender_name: str
    subject: str
    text: str
    message_id_header: str | None
    references: tuple[str, ...]
    attachments: int
    truncated: bool
    automatic: str | None
    answers: tuple[str, ...] = ()  # the mail it answers: In-Reply-To's id and the last of References


def _raw_header(msg: Message, name: str) -> str:
    """A header as it came, 8-bit bytes read as UTF-8 else Latin-1; "" when absent. Read from the raw
    headers: the email package's structured header parsers have raised on crafted values."""
    raw = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    if _ESCAPED.search(raw):
        raw = _decode(raw.encode("utf-8", "surrogateescape"), None)
    return " ".join(raw.split())


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded, one line; a broken word or an unknown charset left as it came."""
    if "=?" in text:
        with contextlib.suppress(Exception):  # a broken base64 word raises HeaderParseError
            text = "".join(chunk if isinstance(chunk, str)
                           else chunk.decode("raw-unicode-escape", "replace") if charset is None
                           else _decode(chunk, charset) for chunk, charset in decode_header(text))
    return " ".join(text.split())


def _header(msg: Message, name: str) -> str:
    return _decode_words(_raw_header(msg, name))


def _msg_ids(text: str) -> list[str]:
    return re.findall(r"<[^<>\s]{1,250}>", text)[:50]


def _sender(msg: Message) -> tuple[str, str]:
    """The first readable mailbox of From (addresses split before encoded words are decoded)."""
    for name, address in getaddresses([_raw_header(msg, "From")])[:10]:
        try:
            address = normalise_address(address)
        except InvalidAddress:
            continue
        return address, squeeze(_decode_words(name))[:_MAX_NAME]
    return "", ""


def _leaves(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Every leaf part in order, with whether it is an attachment; nesting and number of parts capped,
    a forwarded mail (message/rfc822) is one attachment."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        try:
            ctype = part.get_content_type()
            children = part.get_payload() if part.is_multipart() else None
            if isinstance(children, list) and ctype.startswith("multipart/"):
                if depth < _MAX_DEPTH:
                    stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))
                continue
            attached = (part.get_content_disposition() == "attachment" or bool(part.get_filename())
                        or ctype == "message/rfc822" or part.get_content_maintype() not in ("text", "message"))
        except Exception:  # noqa: BLE001 - a part whose headers cannot be read is never read as text
            attached = True
        yield part, attached


_REFUSED_CODECS = frozenset({"punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined"})


def _decode(payload: bytes, charset: str | None, final: bool = True) -> str:
    """The declared charset, else UTF-8, else Latin-1 (which reads any bytes); a cut character at the end
    of a capped payload is not an error."""
    for name in (charset, "utf-8"):
        try:
            info = codecs.lookup(name or "")
        except (LookupError, TypeError):
            continue
        if info.name in _REFUSED_CODECS or not getattr(info, "_is_text_encoding", True):
            continue
        try:
            return info.incrementaldecoder(errors="strict").decode(payload, final=final)
        except (UnicodeError, ValueError):
            continue
    return payload.decode("latin-1")


def _text_of(part: Message, limit: int) -> tuple[str, bool]:
    """The part's text, at most ``limit`` characters, and whether there was more."""
    payload = part.get_payload(decode=True) or b""  # a leaf text part: its parser already read its headers
    read = payload[: limit * 4]
    text = _decode(read, part.get_content_charset(), final=len(read) == len(payload))
    if str(part.get_param("format", "")).lower() == "flowed":
        text = unflow(text, delete_space=str(part.get_param("delsp", "")).lower() == "yes")
    return text[:limit], len(text) > limit or len(read) < len(payload)


def _body(msg: Message) -> tuple[str, int, bool]:
    """(text, attachments, cut): text/plain preferred, else HTML as text (its markup may be long: Outlook
    puts tens of kilobytes of styles before the first word)."""
    plain, html = ("", False), ("", False)
    attachments = 0
    for part, attached in _leaves(msg):
        if attached:
            attachments += 1
        elif part.get_content_type() == "text/plain" and not plain[0].strip():
            plain = _text_of(part, _MAX_BODY_CHARS)
        elif part.get_content_type() == "text/html" and not html[0].strip():
            html = _text_of(part, _MAX_HTML_CHARS)
    if plain[0].strip() or not html[0].strip():
        return plain[0], attachments, plain[1]
    return html_to_text(html[0]), attachments, html[1]


_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")


def _automatic(msg: Message, sender: str, subject: str, envelope_sender: str | None,
               own: Collection[str]) -> str | None:
    auto_submitted = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if (auto_submitted and auto_submitted != "no") or _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return "auto-submitted"
    if _header(msg, "Precedence").lower() in ("bulk", "list", "junk", "auto_reply", "auto-reply"):
        return "precedence"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "list"
    return_path = _header(msg, "Return-Path")
    if (envelope_sender is not None and not envelope_sender.strip("<> ")) or return_path.replace(" ", "") == "<>":
        return "null-sender"
    envelope = (envelope_sender or "").strip("<> ").lower()
    owned = {a.strip().lower() for a in own}
    if sender in owned or envelope in owned:
        return "own-address"
    plain_subject = PREFIX.sub("", subject)
    if AUTO_SUBJECT.match(subject) or AUTO_SUBJECT.match(plain_subject):
        return "auto-reply-subject"
    if (msg.get_content_type() == "multipart/report" or sender.partition("@")[0] in _BOUNCE_SENDERS
            or envelope.partition("@")[0] in _BOUNCE_SENDERS or BOUNCE_SUBJECT.match(plain_subject)):
        return "bounce"
    return None


def parse(raw: bytes, *, envelope_sender: str | None = None, own_addresses: Collection[str] = ()) -> Mail:
    """What a customer's mail says. Never raises: broken MIME, a wrong or unknown charset, a huge mail
    (only the first :data:`MAX_RAW_BYTES` are read), an HTML-only or an empty mail all give a :class:`Mail`.

    ``envelope_sender`` is SES's ``mail.source`` ("" for a null sender, a bounce); None when unknown."""
    data = bytes(raw or b"")
    over = len(data) > MAX_RAW_BYTES
    try:
        msg: Message = BytesParser(policy=policy.default).parsebytes(data[:MAX_RAW_BYTES])
    except Exception:  # noqa: BLE001 - policy.default's header parsers raise on some crafted values; compat32 reads all
        msg = BytesParser(policy=policy.compat32).parsebytes(data[:MAX_RAW_BYTES])
    sender, sender_name = _sender(msg)
    subject = squeeze(_header(msg, "Subject"))[:MAX_SUBJECT]
    message_ids = _msg_ids(_header(msg, "Message-ID"))
    parents, references = _msg_ids(_header(msg, "In-Reply-To")), _msg_ids(_header(msg, "References"))
    answers, references = tuple(dict.fromkeys(parents[:1] + references[-1:])), references + parents
    text, attachments, cut = _body(msg)
    text = squeeze(strip_reply(squeeze(text)))
    truncated = over or cut or len(text) > MAX_TEXT_CHARS
    return Mail(sender=sender, sender_name=sender_name, subject=subject, text=text[:MAX_TEXT_CHARS].rstrip(),
                message_id_header=message_ids[0] if message_ids else None,
                references=tuple(dict.fromkeys(references)), attachments=attachments, truncated=truncated,
                automatic=_automatic(msg, sender, subject, envelope_sender, own_addresses), answers=answers)


def _angled(message_id: str) -> str | None:
    ids = _msg_ids(message_id if message_id.startswith("<") else f"<{message_id.strip()}>")
    return ids[0] if ids else None


def reply_message(*, sender: str, to: str, subject: str, text: str, message_id: str,
                  in_reply_to: str | None, references: Sequence[str],
                  unsubscribe_url: str | None = None, unsubscribe_mailto: str | None = None,
                  automatic: bool = True, reply_to: str | None = None) -> bytes:
    """A threaded plain-text reply, raw MIME for SES v2 ``send_email(Content={"Raw": ...})``.

    ``In-Reply-To`` and ``References`` (theirs, then the mail answered, at most ten) put it in the customer's
    thread; ``Auto-Submitted: auto-replied`` (RFC 3834) when automatic; ``List-Unsubscribe`` with RFC 8058's
    one-click ``List-Unsubscribe-Post`` when an unsubscribe URL is given; ``Reply-To`` when the customer's answer
    must reach another address than the sender (one our receipt rules accept)."""
    own_id = _angled(message_id)
    if own_id is None:
        raise ValueError("reply without a Message-ID")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _one_line(sender)
    msg["To"] = Address(addr_spec=normalise_address(to))
    if reply_to:
        msg["Reply-To"] = Address(addr_spec=normalise_address(reply_to))
    msg["Subject"] = _one_line(subject)
    msg["Date"] = format_datetime(clock.utcnow().astimezone(UTC))
    msg["Message-ID"] = own_id
    answered = _angled(in_reply_to) if in_reply_to else None
    thread = [i for ref in references for i in _msg_ids(ref)]
    if answered:
        msg["In-Reply-To"] = answered
        thread.append(answered)
    thread = list(dict.fromkeys(thread))
    if len(thread) > _MAX_REFERENCES:  # the first (the thread's root) and the latest, as RFC 5322 suggests
        thread = thread[:1] + thread[-(_MAX_REFERENCES - 1):]
    if thread:
        msg["References"] = " ".join(thread)
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
    links = []
    if unsubscribe_url:
        if not re.match(r"^https?://[^\s<>,]+$", unsubscribe_url):
            raise ValueError("unsubscribe URL must be http(s) without spaces")
        links.append(f"<{unsubscribe_url}>")
    if unsubscribe_mailto:
        mailto = normalise_address(unsubscribe_mailto)
        links.append(f"<mailto:{mailto}?subject=unsubscribe>")
    if links:
        msg["List-Unsubscribe"] = ", ".join(links)
    if unsubscribe_url:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes(policy=policy.SMTP)


def _one_line(value: str) -> str:
    return " ".join((value or "").split())
