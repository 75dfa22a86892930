"""The Twilio channel: the inbound SMS webhook's signature, form and shape checks, and TwiML, without the
Twilio SDK. The automatic reply rides in the webhook's answer; a staff reply goes out by the Messages API
(plain HTTPS, the account SID and auth token from SSM) with a ``StatusCallback`` whose signed reports
(``POST /sms/twilio/status``) are read here too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from chalicelib.channels import (
    Answer,
    BadRequest,
    Channel,
    InvalidRecipient,
    RecipientOptedOut,
    Refused,
    ReplyFailed,
    Request,
    Throttled,
    register,
)
from chalicelib.keywords import CARRIER_TYPES
from chalicelib.models import InboundMessage
from chalicelib.phone import InvalidNumber, normalise, region_of

_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
FORM = "application/x-www-form-urlencoded"


class NotFromTwilio(BadRequest):
    """Signed, but not a request Twilio sends: refused with a 403 and nothing stored."""


# What Twilio sends with every inbound message (its "A message comes in" webhook). Twilio's
# signature joins names and values with no separator, so a signed request can be re-cut
# (``MessageSid=SMx`` + ``NumMedia0NumSegments1`` keeps the signature of two parameters):
# only requests of exactly Twilio's shape are taken.
ALWAYS_SENT = ("MessageSid", "AccountSid", "From", "To", "Body", "NumMedia")
_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-f]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
_DIGITS = re.compile(r"[0-9]{1,3}")
_SAME_AS_MESSAGE_SID = ("SmsSid", "SmsMessageSid")
_COUNTS = ("NumMedia", "NumSegments")


def check_shape(params: list[tuple[str, str]], account_sid: str) -> None:
    """Refuse (:class:`NotFromTwilio`) a signed request that is not of the shape Twilio sends.

    A ``MessageSid`` of Twilio's form (``SM``/``MM`` and 32 hex digits), equal to ``SmsSid`` and
    ``SmsMessageSid`` when present; the configured ``AccountSid``; every parameter Twilio always
    sends, each once; counts that are numbers.
    """
    if not _ACCOUNT_SID.fullmatch(account_sid or ""):
        raise NotFromTwilio("the Twilio account is not configured (TWILIO_ACCOUNT_SID)")
    seen: dict[str, str] = {}
    for name, value in params:
        if name in seen:
            raise NotFromTwilio(f"parameter {name} is repeated")
        seen[name] = value
    missing = [name for name in ALWAYS_SENT if name not in seen]
    if missing:
        raise NotFromTwilio(f"missing Twilio parameter {missing[0]}")
    sid = seen["MessageSid"]
    if not _MESSAGE_SID.fullmatch(sid):
        raise NotFromTwilio("MessageSid is not a Twilio message id")
    for name in _SAME_AS_MESSAGE_SID:
        if name in seen and seen[name] != sid:
            raise NotFromTwilio(f"{name} differs from MessageSid")
    if not hmac.compare_digest(seen["AccountSid"].encode(), account_sid.encode()):
        raise NotFromTwilio("AccountSid is not this deployment's Twilio account")
    for name in _COUNTS:
        if name in seen and not _DIGITS.fullmatch(seen[name]):
            raise NotFromTwilio(f"{name} is not a count")


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body, keeping repeated keys."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not valid UTF-8") from exc
    if not text:
        raise BadRequest("empty body")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body is not a valid form") from exc
    return pairs


def _with_default_port(url: str) -> list[str]:
    """The URL as configured, plus the same with/without its scheme's default port.

    Twilio has signed both spellings over time; the official validator accepts both.
    """
    parts = urlsplit(url)
    variants = [url]
    default = 443 if parts.scheme == "https" else 80
    if parts.port is None:
        variants.append(urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}")))
    elif parts.port == default:
        variants.append(urlunsplit(parts._replace(netloc=parts.hostname or "")))
    return variants


def compute_signature(auth_token: str, url: str, params: list[tuple[str, str]],
                      algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's signature: the URL, then each parameter name and its values, sorted."""
    data = url
    names = sorted({name for name, _ in params})
    for name in names:
        for value in sorted({v for n, v in params if n == name}):
            data += name + value
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), _ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def signature_algorithm(settings_header: str | None) -> str:
    for part in (settings_header or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def is_valid_signature(auth_token: str, url: str, params: list[tuple[str, str]],
                       signature: str | None, settings_header: str | None = None) -> bool:
    """Constant-time check of ``X-Twilio-Signature`` against the configured webhook URL."""
    if not signature or not auth_token:
        return False
    algorithm = signature_algorithm(settings_header)
    if algorithm not in _ALGORITHMS:
        return False
    ok = False
    for candidate in _with_default_port(url):
        expected = compute_signature(auth_token, candidate, params, algorithm)
        ok |= hmac.compare_digest(expected.encode(), signature.strip().encode())
    return ok


def to_inbound(params: list[tuple[str, str]], received_at: datetime, channel: str = "twilio") -> InboundMessage:
    """Turn Twilio's form fields into an :class:`InboundMessage` of ``channel`` or raise :class:`BadRequest`."""
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    for required in ("MessageSid", "From", "To", "Body"):
        if required not in fields or (required != "Body" and not fields[required].strip()):
            raise BadRequest(f"missing field {required}")
    try:
        to_number = normalise(fields["To"])
        from_number = normalise(fields["From"], region_of(to_number))
    except InvalidNumber as exc:
        raise BadRequest(str(exc)) from exc
    try:
        num_media = int(fields.get("NumMedia") or 0)
    except ValueError as exc:
        raise BadRequest("NumMedia is not a number") from exc
    from pydantic import ValidationError

    try:
        return InboundMessage(
            channel=channel, channel_message_id=fields["MessageSid"].strip(), from_number=from_number,
            to_number=to_number, body=fields["Body"], received_at=received_at, num_media=num_media,
            carrier_keyword=CARRIER_TYPES.get((fields.get("OptOutType") or "").strip().upper()),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"invalid {where}: {first['msg']}") from exc


def twiml(reply: str | None) -> str:
    """A TwiML answer sending ``reply`` back to the customer (or nothing)."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    if not reply:
        return f"{head}<Response></Response>"
    return f"{head}<Response><Message>{escape(reply)}</Message></Response>"


def verify(request: Request, secrets: Any) -> None:
    """A form, signed with the account's auth token for the URL Twilio called, of exactly Twilio's shape."""
    if not (request.headers.get("content-type") or "").lower().startswith(FORM):
        raise Refused(415, f"expected {FORM}")
    try:
        params = parse_form(_raw(request))
    except BadRequest as exc:
        raise Refused(400, str(exc)) from exc
    if not is_valid_signature(
        secrets.twilio_auth_token, secrets.webhook_url_for(request.headers, request.context, request.path), params,
        request.headers.get("x-twilio-signature"), request.headers.get("x-twilio-webhooks-signature-settings"),
    ):
        raise Refused(403, "invalid Twilio signature")
    try:
        check_shape(params, secrets.twilio_account_sid)
    except NotFromTwilio as exc:
        raise Refused(403, f"not a Twilio request: {exc}") from exc


_ADDRESS_PREFIX = re.compile(r"^([a-z]{2,15}):")  # "whatsapp:+447700900123": a channel Twilio carries besides SMS


def parse(request: Request, received_at: datetime) -> InboundMessage:
    """An SMS; a message of another channel Twilio carries on the same webhook (``From=whatsapp:+44…``) is read
    by that channel's module, one whose requests are checked as this one's are."""
    params = parse_form(_raw(request))
    prefix, to = (_ADDRESS_PREFIX.match(next((v for n, v in params if n == name), "")) for name in ("From", "To"))
    if (prefix and prefix[1]) != (to and to[1]):
        raise Refused(403, "not a Twilio request: From and To are not of one channel")
    if prefix:
        from chalicelib import channels

        try:
            carried = channels.get(prefix[1])
        except KeyError:
            carried = None
        if carried is None or carried is CHANNEL or carried.verify is not verify:
            raise BadRequest(f"{prefix[1]} messages are not taken on this webhook")
        return carried.parse(request, received_at)
    return to_inbound(params, received_at)


def answer(reply: str | None) -> Answer:
    return Answer(twiml(reply), "text/xml")


def _raw(request: Request) -> bytes:
    return request.body.encode() if isinstance(request.body, str) else request.body


# -- staff replies: the Messages API, and its status callbacks --------------------------------------------
API_URL = "https://api.twilio.com"
# Twilio's message statuses, as the conversation keeps them (accepted/scheduled/sending are still "queued")
STATUSES = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued", "sent": "sent",
            "delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed",
            "canceled": "failed"}
REFERENCE = re.compile(r"^[A-Za-z0-9]{1,16}\.[A-Za-z0-9]{1,40}$")  # "<case id>.<reply id>", URL-safe as it is


class TwilioMessagesSender:
    """Sends a text with Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``, basic
    auth), asking for status callbacks at ``status_url?ref=<reference>``; the carrier's id is returned."""

    reports_delivery = True

    def __init__(self, *, account_sid: Callable[[], str], auth_token: Callable[[], str], api_url: str,
                 status_url: str, timeout: float = 10.0):
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_url = api_url.rstrip("/")
        self._status_url = status_url
        self._timeout = timeout

    def send(self, *, to: str, origin: str, text: str, reference: str) -> str:
        return self.post({"To": to, "From": origin, "Body": text}, reference)

    def post(self, fields: Mapping[str, str], reference: str) -> str:
        """Create one message of ``fields`` (``To``, ``From`` and ``Body`` or ``ContentSid``), its status reported
        for ``reference``; the carrier's id."""
        if not REFERENCE.fullmatch(reference):
            raise ValueError(f"reference {reference!r} cannot ride in a callback URL")
        sid = self._account_sid()
        form = urlencode({**fields, "StatusCallback": f"{self._status_url}?ref={reference}"})
        credentials = base64.b64encode(f"{sid}:{self._auth_token()}".encode()).decode()
        request = urllib.request.Request(
            f"{self._api_url}/2010-04-01/Accounts/{sid}/Messages.json", data=form.encode(), method="POST",
            headers={"Authorization": f"Basic {credentials}", "Content-Type": FORM, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as res:
                body = _json(res.read())
        except urllib.error.HTTPError as exc:
            refusal = _json(exc.read())
            code = str(refusal.get("code") or "")
            if exc.code == 429:
                raise Throttled(f"Twilio refused: too many requests ({code})") from exc
            raise self.failure(code, f"Twilio refused ({exc.code}): {code} {refusal.get('message') or ''}".strip()
                               ) from exc
        except (OSError, ValueError) as exc:  # unreachable, timed out, not JSON
            raise ReplyFailed(f"Twilio's Messages API did not answer: {exc}") from exc
        if not isinstance(body.get("sid"), str):
            raise ReplyFailed("Twilio's answer has no message sid")
        return body["sid"]

    def failure(self, code: str | None, detail: str) -> ReplyFailed:
        """What Twilio's error ``code`` means (the channel's ``send_errors``)."""
        return CHANNEL.failure(code, detail)


def _json(raw: bytes) -> dict[str, Any]:
    from chalicelib.bodies import untrusted_json

    try:
        value = untrusted_json(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def outbound(client: Callable[[str], Any]) -> TwilioMessagesSender:
    """The staff replies' sender: TWILIO_API_URL (the local stand-in; Twilio's own by default), the account's
    SID and auth token read at each send (SSM, cached: rotation), callbacks to the status route."""
    from chalicelib import webhook_url
    from chalicelib.secrets import get_secret

    return TwilioMessagesSender(account_sid=lambda: get_secret("TWILIO_ACCOUNT_SID"),
                                auth_token=lambda: get_secret("TWILIO_AUTH_TOKEN"),
                                api_url=os.environ.get("TWILIO_API_URL") or API_URL,
                                status_url=webhook_url.status_url())


@dataclass(frozen=True)
class StatusReport:
    case_id: str
    reply_id: str
    provider_id: str
    status: str
    error_code: str | None
    error_message: str | None


def status_report(raw: bytes, headers: Mapping[str, str], query: Mapping[str, str],
                  secrets: Any) -> StatusReport | None:
    """A status callback, signed like the webhook for the URL Twilio was given (the status route and its
    ``ref``), of the configured account and Twilio's shape; :class:`Refused` otherwise. None for a status the
    conversation does not track (``receiving``, a status Twilio adds later)."""
    if not (headers.get("content-type") or "").lower().startswith(FORM):
        raise Refused(415, f"expected {FORM}")
    reference = query.get("ref") or ""
    if set(query) != {"ref"} or not REFERENCE.fullmatch(reference):
        raise Refused(403, "not a status callback of this deployment (ref)")
    try:
        params = parse_form(raw)
    except BadRequest as exc:
        raise Refused(400, str(exc)) from exc
    if not is_valid_signature(secrets.twilio_auth_token, f"{secrets.twilio_status_url}?ref={reference}", params,
                              headers.get("x-twilio-signature"), headers.get("x-twilio-webhooks-signature-settings")):
        raise Refused(403, "invalid Twilio signature")
    fields: dict[str, str] = {}
    for name, value in params:
        if name in fields:
            raise Refused(403, f"not a Twilio request: parameter {name} is repeated")
        fields[name] = value
    account = secrets.twilio_account_sid
    if not _ACCOUNT_SID.fullmatch(account or "") or not hmac.compare_digest(
            (fields.get("AccountSid") or "").encode(), account.encode()):
        raise Refused(403, "not a Twilio request: AccountSid is not this deployment's Twilio account")
    sid = fields.get("MessageSid") or ""
    if not _MESSAGE_SID.fullmatch(sid) or fields.get("SmsSid", sid) != sid:
        raise Refused(403, "not a Twilio request: MessageSid is not a Twilio message id")
    status = STATUSES.get((fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower())
    if status is None:
        return None
    case_id, reply_id = reference.split(".")
    return StatusReport(case_id=case_id, reply_id=reply_id, provider_id=sid, status=status,
                        error_code=fields.get("ErrorCode") or None, error_message=fields.get("ErrorMessage") or None)


CHANNEL = register(Channel(
    name="twilio", label="SMS (Twilio)", verify=verify, parse=parse, answer=answer, outbound=outbound,
    # Twilio's error codes (the REST API's, and a message's ErrorCode in its status callback)
    send_errors={"21610": RecipientOptedOut,  # the number replied STOP: Twilio sends it nothing more
                 "21211": InvalidRecipient, "21614": InvalidRecipient,  # not a valid (mobile) number
                 "20429": Throttled, "14107": Throttled},  # too many requests; the account's SMS rate
))
