"""A local stand-in for Twilio's Messages API: `make run` and the stack tests send staff replies to it.

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio does (basic auth with the
account SID and auth token, a form with ``To``, ``From``, ``Body`` and ``StatusCallback``, or for WhatsApp
``whatsapp:`` addresses and a ``Body`` or a template's ``ContentSid`` and ``ContentVariables``; 201 and the message
as JSON, with an ``SM…`` sid), records each text in the local outbox (with its case; a template as its SID and
values), then posts the status callbacks Twilio would, signed with the auth token as Twilio signs them: ``sent``,
then ``delivered`` (and ``read`` on WhatsApp; for :data:`FAILING_NUMBER`, always ``undelivered`` with error 30003,
to show a failed delivery). ``GET
/local/replies`` hands `make simulate` the texts sent since it last asked, which its customers answer. Nothing
leaves the machine. The functions find it through ``TWILIO_API_URL``; in the cloud that is unset and Twilio's own
API is called.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from chalicelib.channels.twilio import compute_signature
from chalicelib.phone import mask

FAILING_NUMBER = "+447700900404"  # the demo customer whose phone is always off: every reply is undelivered
PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


class TwilioStandIn:
    """The stand-in's state: the account it accepts, what it was sent, where it records (an Outbox)."""

    def __init__(self, account_sid: str, auth_token: str, outbox: Any = None, step_seconds: float = 0.3,
                 callbacks: bool = True):
        self.account_sid = account_sid
        self.report = callbacks  # False: record only (a test posts the callbacks itself)
        self.auth_token = auth_token
        self.outbox = outbox
        self.step_seconds = step_seconds
        self.sent: list[dict[str, str]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.handed = 0  # how many of ``sent`` `make simulate` has taken to answer (GET /local/replies)
        self._server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://{host}:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def authorised(self, header: str | None) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest((header or "").encode(), expected.encode())

    def take(self, fields: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        reference = dict(parse_qsl(urlsplit(fields.get("StatusCallback") or "").query)).get("ref", "")
        self.sent.append({**fields, "sid": sid})
        if self.outbox is not None:
            to = fields["To"]
            prefix = "whatsapp:" if to.startswith("whatsapp:") else ""
            self.outbox.record(channel="reply", to=prefix + mask(to.removeprefix(prefix)), subject=None,
                               text=text_of(fields), id=sid, message=None, case_id=reference.split(".")[0] or None)
        if fields.get("StatusCallback") and self.report:
            threading.Thread(target=self._report, args=(sid, fields), daemon=True).start()
        return {"sid": sid, "account_sid": self.account_sid, "to": fields["To"], "from": fields["From"],
                "body": text_of(fields), "status": "queued", "api_version": "2010-04-01", "error_code": None}

    def unanswered(self) -> list[dict[str, str]]:
        """The texts sent since the last call, for `make simulate` to answer as the customers would."""
        new, self.handed = self.sent[self.handed:], len(self.sent)
        return [{"sid": m["sid"], "to": m["To"], "from": m["From"], "body": text_of(m)} for m in new]

    def _report(self, sid: str, fields: dict[str, str]) -> None:
        """The status callbacks of one message, in order, each signed for the callback URL (a WhatsApp message is
        read after it is delivered)."""
        failing = fields["To"].removeprefix("whatsapp:") == FAILING_NUMBER
        final = ["undelivered"] if failing else ["delivered", "read"] if fields["To"].startswith("whatsapp:") \
            else ["delivered"]
        for status in ("sent", *final):
            time.sleep(self.step_seconds)
            params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": fields["From"],
                      "MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status,
                      "To": fields["To"], **({"ErrorCode": "30003"} if status == "undelivered" else {})}
            signature = compute_signature(self.auth_token, fields["StatusCallback"], sorted(params.items()))
            request = urllib.request.Request(fields["StatusCallback"], data=urlencode(params).encode(), method="POST",
                                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                                      "X-Twilio-Signature": signature})
            try:
                with urllib.request.urlopen(request, timeout=10) as res:
                    answered = res.status
            except OSError as exc:  # Twilio does not retry a failed status callback either
                answered = getattr(exc, "code", None) or str(exc)
            self.callbacks.append({"sid": sid, "status": status, "answered": answered})


def text_of(fields: dict[str, str]) -> str:
    """A message's text: its body, or the template it names (WhatsApp outside the 24-hour window) and the values
    of its variables."""
    if fields.get("Body") or not fields.get("ContentSid"):
        return fields.get("Body") or ""
    try:
        values = json.loads(fields.get("ContentVariables") or "{}")
    except ValueError:
        values = {}
    return f"[template {fields['ContentSid']}] " + " | ".join(str(v) for v in dict(values).values())


def _handler(standin: TwilioStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "twilio-standin"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path == "/local/replies":  # local only: the demo customers' numbers, for `make simulate`
                self._answer(200, {"items": standin.unanswered()})
            else:
                self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})

        def do_POST(self) -> None:
            found = PATH.fullmatch(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 64 * 1024)).decode("utf-8", "replace")
            if not found:
                self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
            elif not standin.authorised(self.headers.get("Authorization")) or found[1] != standin.account_sid:
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
            else:
                fields = dict(parse_qsl(raw, keep_blank_values=True))
                missing = [name for name in ("To", "From") if not fields.get(name)]
                if missing or not (fields.get("Body") or fields.get("ContentSid")):
                    name = missing[0] if missing else "Body"
                    self._answer(400, {"code": {"To": 21604, "From": 21603}.get(name, 21602),
                                       "message": f"A '{name}' is required.", "status": 400})
                else:
                    self._answer(201, standin.take(fields))

    return Handler
