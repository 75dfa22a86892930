"""Send a realistic stream of customer messages to the running local stack (`make simulate`): signed SMS on the
Twilio webhook, SMS published as End User Messaging publishes them, and e-mails published as SES receiving
publishes them (the JSON notification on the inbound e-mail topic)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(__file__).with_name("demo_messages.jsonl")
CUSTOMERS = [f"+447700900{n:03d}" for n in range(100, 160)] + [f"+33639980{n:03d}" for n in range(200, 240)]


def load_state() -> dict:
    path = Path(os.environ.get("VOIX_STATE_FILE") or ROOT / ".local" / "stack.json")
    if not path.exists():
        sys.exit("the local stack is not running: start it with `make run`")
    return json.loads(path.read_text())


def send_twilio(state: dict, to: str, text: str, sender: str, sid: str | None = None) -> tuple[int, str]:
    from chalicelib.channels.twilio import compute_signature

    params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": state["twilio_account_sid"], "From": sender,
              "To": to, "Body": text, "NumMedia": "0"}
    signature = compute_signature(state["twilio_auth_token"], state["webhook_url"], list(params.items()))
    request = urllib.request.Request(
        state["webhook_url"], data=urlencode(params).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def send_whatsapp(state: dict, to: str, text: str, sender: str, sid: str | None = None,
                  media: str | None = None) -> tuple[int, str]:
    """A WhatsApp message through Twilio, signed and shaped as Twilio posts it (``whatsapp:`` addresses, the
    sender's WhatsApp id and profile name); ``media`` (a content type) sends a photo alone, with no text."""
    from chalicelib.channels.twilio import compute_signature

    sid = sid or ("MM" if media else "SM") + uuid.uuid4().hex
    params = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": state["twilio_account_sid"],
              "From": f"whatsapp:{sender}", "To": f"whatsapp:{to}", "Body": "" if media else text,
              "NumMedia": "1" if media else "0", "NumSegments": "1", "SmsStatus": "received",
              "ApiVersion": "2010-04-01", "ProfileName": "Demo Customer", "WaId": sender.lstrip("+"),
              "MessageType": (media or "text").partition("/")[0]}
    if media:
        params["MediaContentType0"] = media
        params["MediaUrl0"] = f"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/{sid}/Media/ME0"
    signature = compute_signature(state["twilio_auth_token"], state["webhook_url"], list(params.items()))
    request = urllib.request.Request(
        state["webhook_url"], data=urlencode(params).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=15) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def send_whatsapp_demo(state: dict, count: int, rng: random.Random, verbose: bool = False) -> int:
    """A few demo messages by WhatsApp, the last a photo alone; how many were accepted."""
    messages = demo_messages()
    accepted = 0
    for n in range(count):
        m, sender = rng.choice(messages), rng.choice(CUSTOMERS)
        status, reply = send_whatsapp(state, m["to"], m["text"], sender, media="image/jpeg" if n == count - 1 else None)
        accepted += status == 200
        if verbose:
            print(f"{status} whatsapp {m['to']} {m['text'][:50] if n < count - 1 else '(a photo)'!r} -> {reply[:120]}")
    return accepted


def send_eum(state: dict, to: str, text: str, sender: str) -> None:
    """Publish an inbound SMS the way AWS End User Messaging does, on the SNS topic."""
    import boto3

    sns = boto3.client("sns", endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                       aws_access_key_id="local", aws_secret_access_key="local")
    sns.publish(TopicArn=state["inbound_sms_topic_arn"], Message=json.dumps({
        "originationNumber": sender, "destinationNumber": to, "messageKeyword": text.split(" ")[0].upper(),
        "messageBody": text, "inboundMessageId": str(uuid.uuid4()), "previousPublishedMessageId": None,
    }))


def raw_mail(sender: str, to: str, subject: str, text: str, *, message_id: str | None = None,
             in_reply_to: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A customer's mail as their client sends it (plain text, UTF-8)."""
    from email.message import EmailMessage
    from email.utils import formatdate

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@mail.example.net>"
    if in_reply_to:
        mail["In-Reply-To"] = mail["References"] = in_reply_to
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    return bytes(mail)


def ses_notification(raw: bytes, *, sender: str, to: str, topic_arn: str = "", ses_id: str | None = None,
                     verdicts: dict[str, str] | None = None, s3: tuple[str, str] | None = None) -> str:
    """The JSON SES receiving publishes to SNS for one mail (notificationType Received): the raw mail in
    ``content`` (SNS action, UTF-8 encoding), or named in S3 (S3 action: ``bucketName`` / ``objectKey``)."""
    from email import message_from_bytes, policy

    from chalicelib.clock import iso, utcnow

    parsed = message_from_bytes(raw, policy=policy.default)
    now = iso(utcnow())
    verdicts = {"spam": "PASS", "virus": "PASS", "spf": "PASS", "dkim": "PASS", "dmarc": "PASS", **(verdicts or {})}
    action = {"type": "SNS", "topicArn": topic_arn, "encoding": "UTF8"}
    if s3:
        action = {"type": "S3", "topicArn": topic_arn, "bucketName": s3[0],
                  "objectKeyPrefix": s3[1].rpartition("/")[0] + "/", "objectKey": s3[1]}
    note = {
        "notificationType": "Received",
        "mail": {"timestamp": now, "source": sender, "messageId": ses_id or uuid.uuid4().hex[:20],
                 "destination": [to], "headersTruncated": False,
                 "headers": [{"name": k, "value": str(v)} for k, v in parsed.items()],
                 "commonHeaders": {"returnPath": sender, "from": [str(parsed["From"])], "to": [to],
                                   "messageId": str(parsed["Message-ID"]), "subject": str(parsed["Subject"])}},
        "receipt": {"timestamp": now, "processingTimeMillis": 120, "recipients": [to],
                    **{f"{name}Verdict": {"status": status} for name, status in verdicts.items()},
                    **({"dmarcPolicy": "reject"} if verdicts["dmarc"] == "FAIL" else {}), "action": action},
    }
    if not s3:
        note["content"] = raw.decode("utf-8", "replace")
    return json.dumps(note)


def send_email(state: dict, to: str, subject: str, text: str, sender: str, **options: Any) -> str:
    """One mail as SES receiving takes it with the stack's receipt rules: stored in the inbound bucket under
    inbound/ (S3 action), then notified on the inbound e-mail topic; SES's message id. ``inline=True``: the raw
    mail in the notification instead (SNS action)."""
    import boto3

    def client(name: str) -> Any:
        return boto3.client(name, endpoint_url=state["moto_endpoint"], region_name="eu-west-2",
                            aws_access_key_id="local", aws_secret_access_key="local")

    ses_id = options.pop("ses_id", None) or uuid.uuid4().hex[:20]
    verdicts, inline = options.pop("verdicts", None), options.pop("inline", False)
    raw = raw_mail(sender, to, subject, text, **options)
    stored = None if inline else (state["inbound_email_bucket"], f"inbound/{ses_id}")
    if stored:
        client("s3").put_object(Bucket=stored[0], Key=stored[1], Body=raw)
    client("sns").publish(TopicArn=state["inbound_email_topic_arn"], Message=ses_notification(
        raw, sender=sender, to=to, topic_arn=state["inbound_email_topic_arn"], ses_id=ses_id, verdicts=verdicts,
        s3=stored))
    return ses_id


EMAIL_CUSTOMERS = [f"customer{n}@mail.example.net" for n in range(1, 30)]


def demo_messages() -> list[dict]:
    with DEMO.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def site_address(to: str) -> str | None:
    """The e-mail address of the site whose number is ``to``, if it has one."""
    from chalicelib.config_loader import get_config

    site = get_config().site_by_number(to)
    return site.email_addresses[0] if site and site.email_addresses else None


def send_demo(state: dict, count: int, rate: float = 0.0, eum_share: float = 0.0, seed: int | None = 7,
              verbose: bool = False, email_share: float = 0.0) -> int:
    rng = random.Random(seed)
    messages = demo_messages()
    sent = 0
    for _ in range(count):
        m = rng.choice(messages)
        sender = rng.choice(CUSTOMERS)
        address = site_address(m["to"]) if state.get("inbound_email_topic_arn") else None
        if address and rng.random() < email_share:
            send_email(state, address, m["text"][:60], m["text"], rng.choice(EMAIL_CUSTOMERS))
            status, reply = 202, "(e-mail published on SNS as SES does)"
        elif rng.random() < eum_share:
            send_eum(state, m["to"], m["text"], sender)
            status, reply = 202, "(published on SNS)"
        else:
            status, reply = send_twilio(state, m["to"], m["text"], sender)
        sent += status in (200, 202)
        if verbose:
            print(f"{status} {m['to']} {m['text'][:60]!r} -> {reply[:160]}")
        if rate:
            time.sleep(1 / rate)
    return sent


ANSWERS = ("Thank you, that's kind", "Row 12, near the back", "OK, I'll wait", "Still nothing here...",
           "Merci beaucoup", "It's sorted now, thanks")


def answer_replies(state: dict, rng: random.Random | None = None) -> int:
    """The customers answer the staff replies sent since the last call (the local Twilio stand-in hands them
    over), each once, through the signed webhook: their answer joins their case. How many were answered."""
    from infra.twilio_standin import FAILING_NUMBER

    rng = rng or random.Random()
    if not state.get("twilio_api_url"):
        return 0
    with urllib.request.urlopen(state["twilio_api_url"] + "/local/replies", timeout=10) as res:
        replies = json.loads(res.read())["items"]
    answered = 0
    for reply in replies:
        if reply["to"] != FAILING_NUMBER:  # that phone is off: it never answers
            answered += send_twilio(state, reply["from"], rng.choice(ANSWERS), reply["to"])[0] == 200
    return answered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second (0: as fast as possible)")
    parser.add_argument("--eum-share", type=float, default=0.25, help="share sent through End User Messaging/SNS")
    parser.add_argument("--email-share", type=float, default=0.2, help="share sent as e-mails (SES receiving/SNS)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--whatsapp", type=int, default=3, help="then this many WhatsApp messages (the last a photo)")
    parser.add_argument("--watch", type=float, default=0, help="then keep answering staff replies this many seconds")
    args = parser.parse_args(argv)
    state = load_state()
    sent = send_demo(state, args.count, args.rate, args.eum_share, args.seed, verbose=True,
                     email_share=args.email_share)
    print(f"{sent}/{args.count} accepted")
    if args.whatsapp:
        print(f"{send_whatsapp_demo(state, args.whatsapp, random.Random(args.seed), verbose=True)}/{args.whatsapp} "
              "WhatsApp messages accepted")
    deadline = time.monotonic() + args.watch
    while True:  # the customers answer the staff replies sent meanwhile
        answered = answer_replies(state, random.Random(args.seed))
        if answered:
            print(f"{answered} customer(s) answered a staff reply")
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    return 0 if sent == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
