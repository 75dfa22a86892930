"""The local outbox: every SMS and e-mail the local stack sent, newest first, with its case.

Local mode only. Nothing leaves the machine locally: staff SMS go to moto's SNS, e-mails to moto's SES
(replies by e-mail too, with the customer's mail they answer: their thread), and replies through End User
Messaging are only logged (``REPLY_SENDER=log``; moto has no SendTextMessage). ``Outbox.install`` records each
as moto (or the log sender) accepts it, with the time; ``listing`` names the case each belongs to (an alert by
the provider's message id the worker recorded on the case, a reply by the message it answers; a daily digest
belongs to none). Replies in TwiML (the Twilio webhook's answer) are not sent by the stack: they are in each
message's ``reply``, on the dashboard.

The dashboard server shows it at ``/outbox`` (``/outbox.json`` for scripts), and

    make outbox        # or: python -m infra.outbox [--limit 50] [--json]

prints it from the running stack (the address comes from ``.local/stack.json``).
"""

from __future__ import annotations

import argparse
import functools
import html
import inspect
import json
import os
import sys
import threading
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib.clock import utcnow

MAX_KEPT = 5000


class Outbox:
    def __init__(self) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT)
        self._lock = threading.Lock()

    def record(self, **item: Any) -> None:
        item["at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._lock:
            self._items.append(item)

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def install(self) -> None:
        """Record what moto's SNS (SMS to a phone number) and SES (e-mail, v1 and v2) accept, and what the
        local reply sender logs, from now on (this process: the local stack runs moto in-process)."""
        from moto.ses.models import SESBackend
        from moto.sns.models import SNSBackend

        from chalicelib.channels import LogReplySender

        outbox = self

        def wrap(cls: type, name: str, after: Callable[[Any, dict[str, Any]], None]) -> None:
            original = getattr(cls, name)
            original = getattr(original, "_voix_outbox_original", original)  # installing twice records once
            signature = inspect.signature(original)

            @functools.wraps(original)
            def recorded(this, *args, **kwargs):
                result = original(this, *args, **kwargs)
                after(result, signature.bind(this, *args, **kwargs).arguments)
                return result

            recorded._voix_outbox_original = original
            setattr(cls, name, recorded)

        def sms(message_id: str, call: dict[str, Any]) -> None:
            if call.get("phone_number"):  # a publish to a topic is not an SMS to someone
                outbox.record(channel="sms", to=call["phone_number"], subject=None, text=call["message"],
                              id=message_id)

        def email(message: Any, call: dict[str, Any]) -> None:
            destinations = call["destinations"]
            to = [a for kind in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destinations.get(kind, [])]
            outbox.record(channel="email", to=", ".join(to), subject=call["subject"], text=call["body"],
                          id=message.id)

        def email_reply(message: Any, call: dict[str, Any]) -> None:
            """A reply by e-mail (SES v2 raw content): to the customer, in their thread."""
            from email import message_from_string, policy

            from chalicelib.phone import mask

            parsed = message_from_string(call["raw_data"], policy=policy.default)
            ours = str(parsed.get("Message-ID") or "").strip("<>").partition("@")[0]  # the reply's reference
            body = parsed.get_body(("plain",))
            outbox.record(channel="reply", to=mask(str(parsed.get("To") or "")), subject=str(parsed["Subject"]),
                          text=body.get_content() if body else "", id=message.id,
                          message=ours if ours.startswith("email-") else None,
                          case_id=ours.partition(".")[0] if "." in ours else None,
                          thread=str(parsed.get("In-Reply-To") or ""))

        def reply(provider_id: str | None, call: dict[str, Any]) -> None:
            from chalicelib.phone import mask

            outbox.record(channel="reply", to=mask(call["to"]), subject=None, text=call["text"], id=provider_id,
                          message=call["reference"])

        wrap(SNSBackend, "publish", sms)
        wrap(SESBackend, "send_email", email)
        wrap(SESBackend, "send_raw_email", email_reply)
        wrap(LogReplySender, "send", reply)


def case_index(store: Any, pages: int = 3) -> tuple[dict[str, dict], dict[str, dict]]:
    """The newest cases of every status, by the provider ids of their alerts and by their message id (and by
    their own id: a staff reply names its case)."""
    by_provider: dict[str, dict] = {}
    by_message: dict[str, dict] = {}
    for status in ("open", "acknowledged", "resolved"):
        cursor = None
        for _ in range(pages):
            cases, cursor = store.cases(status, 100, cursor)
            for case in cases:
                ref = {"id": case["id"], "code": case.get("code"), "status": case.get("status")}
                by_message[case.get("message_id") or ""] = ref
                by_message[f"case:{case['id']}"] = ref
                for recipient in case.get("recipients", {}).values():
                    for attempt in recipient.get("attempts", []):
                        if attempt.get("id"):
                            by_provider[attempt["id"]] = ref
            if not cursor:
                break
    return by_provider, by_message


def listing(outbox: Outbox, store: Any | None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` items, newest first, each with ``case`` (id, code, status) or None."""
    from chalicelib.digest import is_digest  # a digest, in any language

    items = sorted(outbox.items(), key=lambda i: i["at"], reverse=True)[:limit]
    by_provider, by_message = case_index(store) if store is not None and items else ({}, {})
    out = []
    for item in items:
        case = by_provider.get(item.get("id") or "") or by_message.get(item.get("message") or "") or \
            by_message.get(f"case:{item.get('case_id')}")
        kind = "digest" if item["channel"] == "email" and case is None and \
            is_digest(item.get("text") or "") else item["channel"]
        out.append({**item, "kind": kind, "case": case})
    return out


def render_html(items: list[dict[str, Any]]) -> bytes:
    """The outbox page: a plain table (no script: the dashboard's Content-Security-Policy holds)."""
    rows = []
    for item in items:
        case = item.get("case") or {}
        label = case.get("code") or case.get("id") or ("digest" if item["kind"] == "digest" else "")
        content = (f"<strong>{html.escape(item['subject'])}</strong><br>" if item.get("subject") else "") + \
            (f"<small>in reply to {html.escape(item['thread'])}</small><br>" if item.get("thread") else "") + \
            f"<pre>{html.escape(item.get('text') or '')}</pre>"
        rows.append(f"<tr><td>{html.escape(item['at'])}</td><td>{html.escape(item['kind'])}</td>"
                    f"<td>{html.escape(item.get('to') or '')}</td><td title=\"{html.escape(case.get('id') or '')}\">"
                    f"{html.escape(label)}</td><td>{content}</td></tr>")
    body = "\n".join(rows) or '<tr><td colspan="5">Nothing sent yet.</td></tr>'
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Voix local outbox</title>
<link rel="stylesheet" href="/outbox.css"></head><body>
<h1>Local outbox</h1>
<p>Every SMS and e-mail the local stack sent ({len(items)} shown), newest first. Reload to refresh;
<a href="/outbox.json">JSON</a>. Local mode only: in the cloud they go to phones and inboxes.</p>
<table><thead><tr><th>sent (UTC)</th><th>kind</th><th>to</th><th>case</th><th>content</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>""".encode()


OUTBOX_CSS = b"""body { font-family: system-ui, sans-serif; margin: 1rem; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #ddd; padding: .4rem;
text-align: left; vertical-align: top; } pre { white-space: pre-wrap; margin: 0; font-size: .85rem; }"""


def format_text(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        case = item.get("case") or {}
        label = case.get("code") or case.get("id") or ("digest" if item["kind"] == "digest" else "-")
        head = item.get("subject") or (item.get("text") or "").replace("\n", " ")
        lines.append(f"{item['at'][:19].replace('T', ' ')}  {item['kind']:6} {item.get('to') or '':28} "
                     f"case {label:12} {head[:110]}")
    return "\n".join(lines) if lines else "Nothing sent yet."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What the running local stack sent: SMS and e-mails, newest first.")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="the raw listing, as /outbox.json gives it")
    parser.add_argument("--state", default=os.environ.get("VOIX_STATE_FILE") or
                        str(Path(__file__).resolve().parent.parent / ".local" / "stack.json"))
    args = parser.parse_args(argv)
    try:
        state = json.loads(Path(args.state).read_text())
        with urllib.request.urlopen(f"{state['dashboard_url']}/outbox.json?limit={args.limit}", timeout=30) as res:
            items = json.loads(res.read())["items"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"no running local stack to read ({exc}): start one with `make run`", file=sys.stderr)
        return 1
    print(json.dumps(items, indent=2, ensure_ascii=False) if args.json else format_text(items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
