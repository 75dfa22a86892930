"""The e-mail channel: SES receiving publishes each mail to SNS, replies go out by SES v2, in the customer's thread.

In: SES's receipt rule publishes a ``Received`` notification to the inbound e-mail topic, with the raw MIME in
it (SNS action) or in the inbound bucket (S3 action: the function reads the object, under its prefix only).
:mod:`chalicelib.mail` reads both; this module turns one mail into an
:class:`~chalicelib.models.InboundMessage`: the customer is the sender's address (normalised), the number
written to is the address it was sent to (a site's, or the central one, where the site's code leads the subject
or the first line), the text is the subject then the body, SES's message id is the channel's id (a redelivered
notification is the same message). A mail failing a verdict (spam, virus, SPF, DKIM, DMARC) is ``withheld`` as
``suspect:<verdict>``; an auto-reply, a bounce, list mail or our own is ``withheld`` as ``automatic:<why>``:
stored, never answered, cased nor counted (no mail loop). "STOP" or "unsubscribe" opts out, silently.

Out: SES v2 ``SendEmail`` with raw content, so the threading headers are ours: ``In-Reply-To`` and
``References`` name the customer's mail, the subject is theirs after "Re:", and ``List-Unsubscribe`` (a signed
one-click link, RFC 8058, and a ``mailto:``) lets them opt out from their mail client.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from chalicelib import mail
from chalicelib.channels import (
    BadRequest,
    Channel,
    InvalidRecipient,
    RecipientOptedOut,
    ReplyFailed,
    Request,
    Throttled,
    register,
)
from chalicelib.conversations import MailThread
from chalicelib.models import MAX_SMS_CHARS, InboundMessage

if TYPE_CHECKING:
    from chalicelib.configuration import Config

NO_SENDER = "null-sender@mailer-daemon.invalid"  # the customer of a bounce naming no one (.invalid: RFC 2606)
MAX_REFERENCES = 10  # the latest ids of the customer's thread, enough for any mail client to thread
MAX_ID = 250  # a Message-ID longer than this is no one's: dropped (the stored message stays small)
_STAFF_REFERENCE = re.compile(r"^[A-Z0-9]{8}\.r\w{1,60}$")  # a staff reply's "<case id>.<reply id>"


def own_addresses(config: Config) -> set[str]:
    """Every address Voix receives on or sends from: mail from one of them is our own (never answered)."""
    deployment = config.deployment
    found = {a for site in config.sites for a in site.email_addresses}
    found.update(a for a in (deployment.central_email, deployment.reply_from_email, deployment.alert_from_email) if a)
    return {a.lower() for a in found}


AUTOMATIC_ID = "auto-"  # leads the Message-ID of each automatic reply: "<auto-email-…@feedback.voix.example>"


def answers_our_automatic_reply(answered: tuple[str, ...], own: set[str]) -> bool:
    """Whether the mail answers one of our automatic replies (its In-Reply-To or last Reference is ours): an
    auto-responder with no telltale header answering it gets no answer, and the loop stops."""
    domains = {address.rpartition("@")[2] for address in own}
    return any(found.startswith(f"<{AUTOMATIC_ID}") and found[:-1].rpartition("@")[2].lower() in domains
               for found in answered)


def fetch(location: tuple[str, str], client: Callable[[str], Any]) -> bytes:
    """The raw mail SES stored in the inbound bucket (S3 action): only our bucket, only under our prefix."""
    bucket, key = location
    if bucket != os.environ.get("INBOUND_EMAIL_BUCKET") or not key.startswith(
            os.environ.get("INBOUND_EMAIL_PREFIX", "inbound/")):
        raise BadRequest("the mail is stored outside the inbound bucket's prefix")
    try:
        found = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{mail.MAX_RAW_BYTES - 1}")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise BadRequest("the stored mail cannot be read") from exc
        raise  # passing, or AccessDenied (a policy to fix): delivered again, then kept in the failure queue
    return found["Body"].read(mail.MAX_RAW_BYTES)


def to_inbound(sns_message: str, received_at: datetime, *, config: Config,
               client: Callable[[str], Any]) -> InboundMessage:
    """Read the notification SES receiving publishes for one mail (raw content in it, or in S3)."""
    try:
        note = mail.read_notification(sns_message)
    except mail.MailRejected as exc:
        raise BadRequest(f"SES notification is unreadable: {exc}") from exc
    raw = note.content if note.content is not None else fetch(note.s3_location, client) if note.s3_location else b""
    own = own_addresses(config)
    found = mail.parse(raw, envelope_sender=note.source, own_addresses=own)
    try:
        sender = mail.normalise_address(found.sender or note.source)
    except mail.InvalidAddress as exc:
        if not found.automatic:
            raise BadRequest("the mail has no sender to answer or link") from exc
        sender = NO_SENDER  # a bounce with a null sender and no From: stored as automatic, never answered
    ours = [a for a in note.destination if a in own]
    to = ours[0] if ours else (note.destination[0] if note.destination else "")
    subject, text = found.subject, found.text
    body = "\n".join(part for part in (subject, text) if part)
    if config.site_by_address(to) is None:  # the central address: a site's code leads the subject or first line
        code = mail.leading_code(subject, text, [c for site in config.sites for c in site.codes])
        if code and not body.upper().startswith(code):
            body = f"{code} {body}"
    verdict = mail.suspect(note.verdicts)
    withheld = f"suspect:{verdict}" if verdict else f"automatic:{found.automatic}" if found.automatic else None
    try:
        return InboundMessage(
            channel="email", channel_message_id=note.message_id, from_number=sender, to_number=to,
            body=body[:MAX_SMS_CHARS], received_at=received_at, num_media=min(found.attachments, 10),
            carrier_keyword="opt_out" if not withheld and mail.wants_unsubscribe(subject, text) else None,
            withheld=withheld, answers_our_reply=answers_our_automatic_reply(found.answers, own),
            thread=MailThread(subject=subject[:200], message_id=_short(found.message_id_header),
                              references=tuple(filter(_short, found.references))[-MAX_REFERENCES:]))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRequest(f"invalid {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


_ADDRESS = re.compile(r"[^\s@<>()\[\]\"',;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def without_addresses(text: str) -> str:
    """SES's words with every address in them masked (in the sandbox SES names the recipient it refused): a
    reply's error is shown on its case and logged, never an address."""
    return _ADDRESS.sub(lambda found: mail.mask_address(found.group().lower()), text)


def _short(message_id: str | None) -> str | None:
    return message_id if message_id and len(message_id) <= MAX_ID else None


class EmailSender:
    """Sends a reply with SES v2 ``SendEmail`` (raw MIME from :func:`chalicelib.mail.reply_message`), threaded."""

    reports_delivery = False  # taken by SES is sent

    def __init__(self, client: Any, *, reply_from: Callable[[], str | None] = lambda: None,
                 unsubscribe_url: Callable[[str], str | None] = lambda address: None,
                 opted_out: Callable[[str], bool] = lambda address: False):
        self._client = client
        self._opted_out = opted_out
        self._reply_from = reply_from
        self._unsubscribe_url = unsubscribe_url

    def send(self, *, to: str, origin: str, text: str, reference: str,
             thread: MailThread | None = None) -> str | None:
        if self._opted_out(to):  # no carrier keeps an e-mail opt-out list: Voix's own is checked
            raise RecipientOptedOut("the customer unsubscribed: no e-mail is sent")
        thread = thread or MailThread()
        sender = self._reply_from() or origin  # from reply_from_email, the answer comes back to the site's address
        automatic = not _STAFF_REFERENCE.match(reference)  # a staff member's reply is not automatic
        local = (AUTOMATIC_ID if automatic else "") + re.sub(r"[^A-Za-z0-9._-]", "-", reference)[:120]
        raw = mail.reply_message(
            sender=sender, to=to, subject=mail.reply_subject(thread.subject, thread.language), text=text,
            message_id=f"<{local}@{sender.rpartition('@')[2]}>", in_reply_to=thread.message_id,
            references=list(thread.references), unsubscribe_url=self._unsubscribe_url(to),
            unsubscribe_mailto=origin,  # mail to it saying "unsubscribe" opts out
            reply_to=origin if sender != origin else None,
            automatic=automatic)
        try:
            return self._client.send_email(FromEmailAddress=sender, Destination={"ToAddresses": [to]},
                                           Content={"Raw": {"Data": raw}}).get("MessageId")
        except ClientError as exc:
            raise CHANNEL.failure(exc.response.get("Error", {}).get("Code"), without_addresses(str(exc))) from exc
        except BotoCoreError as exc:
            raise ReplyFailed(without_addresses(str(exc))) from exc


def _services() -> Any:
    from chalicelib.web import services

    return services()


def _unsubscribe_url(address: str) -> str | None:
    try:
        return _services().unsubscribe_url(address)
    except Exception:  # no public URL or link key here: the mailto: still unsubscribes
        return None


def _opted_out(address: str) -> bool:
    from chalicelib.unsubscribe import opted_out

    svc = _services()
    return opted_out(svc.store.customers, svc.customer_secret, address)


def parse(request: Request, received_at: datetime) -> InboundMessage:
    body = request.body if isinstance(request.body, str) else request.body.decode()
    return to_inbound(body, received_at, config=_services().config, client=_services().client)


def sender(client: Callable[[str], Any]) -> EmailSender:
    return EmailSender(client("sesv2"), reply_from=lambda: _services().config.deployment.reply_from_email,
                       unsubscribe_url=_unsubscribe_url, opted_out=_opted_out)


CHANNEL = register(Channel(
    name="email", label="E-mail", parse=parse, sender=sender, logs_locally=False,
    rings=False,  # a mail waits in the inbox: a staff reply is not held for the site's quiet hours
    can_call=False,  # the customer is an address: replies promise a written answer, never a call
    carrier_handles_stop=lambda config: True,  # an unsubscribe by mail is recorded, never answered by mail
    # SendEmail's refusals (SES v2 error codes)
    send_errors={"MessageRejected": InvalidRecipient, "BadRequestException": InvalidRecipient,
                 "TooManyRequestsException": Throttled, "LimitExceededException": Throttled},
))
