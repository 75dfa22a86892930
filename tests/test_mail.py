"""E-mail, pure: SES receiving notifications, MIME parsing to what the customer wrote, the mails never to
answer, addresses, and the threaded reply (chalicelib/mail.py, chalicelib/mail_text.py)."""

from __future__ import annotations

import base64
import copy
import json
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from chalicelib import clock, mail
from chalicelib.mail import (
    MAX_RAW_BYTES,
    MAX_TEXT_CHARS,
    InvalidAddress,
    MailRejected,
    is_address,
    leading_code,
    mask_address,
    normalise_address,
    parse,
    read_notification,
    reply_message,
    reply_subject,
    suspect,
    wants_unsubscribe,
)

SES = Path(__file__).resolve().parent / "data" / "ses"
S3_PLACE = ("voix-dev-inbound-email-123456789012", "inbound/9k2fh0c7lq3v8mbd1s5pt4rnu6e0g2a7j8o1b3c1")
SNS_ACTION = json.loads((SES / "received_sns_action.json").read_text())
S3_ACTION = json.loads((SES / "received_s3_action.json").read_text())


def raw_mail(body: str | bytes, *, headers: dict[str, str] | None = None,
             content_type: str = "text/plain; charset=utf-8", cte: str | None = None) -> bytes:
    """A mail as a client sends it: headers, a blank line, the body as given (bytes kept as they are)."""
    head = {"From": "Ann Smith <ann.smith@gmail.com>", "To": "line8@feedback.example.com",
            "Subject": "Coach", "Message-ID": "<m1@mail.gmail.com>", "MIME-Version": "1.0",
            "Content-Type": content_type}
    if cte:
        head["Content-Transfer-Encoding"] = cte
    head.update(headers or {})
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v is not None)
    return lines.encode() + b"\r\n" + (body.encode() if isinstance(body, str) else body)


def notification(**changes) -> str:
    body = copy.deepcopy(SNS_ACTION)
    for path, value in changes.items():
        node = body
        *parents, leaf = path.split("__")
        for name in parents:
            node = node[name]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return json.dumps(body)


# --- SES notifications -------------------------------------------------------------------------------------

def test_an_sns_action_notification_carries_the_raw_mail_and_its_envelope():
    note = read_notification(json.dumps(SNS_ACTION))
    assert note.message_id == "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
    assert note.timestamp == datetime(2026, 12, 3, 8, 14, 5, 437000, tzinfo=UTC)
    assert note.source == "ann.smith@gmail.com"
    assert note.destination == ("line8@feedback.example.com",)
    assert note.verdicts == {"spam": "PASS", "virus": "PASS", "spf": "PASS", "dkim": "PASS", "dmarc": "PASS"}
    assert note.s3_location is None
    assert note.content == SNS_ACTION["content"].encode()
    got = parse(note.content, envelope_sender=note.source)
    assert got.text == ("The 07:40 coach from Leeds was 40 minutes late and the toilet was out of order. "
                        "Nobody told us why.")
    assert got.sender == "ann.smith@gmail.com" and got.automatic is None


def test_an_s3_action_notification_says_where_the_mail_is_and_carries_no_content():
    note = read_notification(json.dumps(S3_ACTION))
    assert note.content is None
    assert note.s3_location == S3_PLACE
    assert note.destination == ("feedback@feedback.example.com",)
    got = parse((SES / "received_s3_action.eml").read_bytes(), envelope_sender=note.source)
    assert got.subject == "L12 climatisation en panne – photos"
    assert "30 degrés à bord" in got.text and got.attachments == 2 and got.sender_name == "Claire Martin"
    assert leading_code(got.subject, got.text, ["L8", "L12"]) == "L12"


def test_an_s3_action_without_object_key_is_found_under_its_prefix_by_message_id():
    body = copy.deepcopy(S3_ACTION)
    del body["receipt"]["action"]["objectKey"]
    note = read_notification(json.dumps(body))
    assert note.s3_location == S3_PLACE


def test_base64_content_is_decoded_to_the_exact_bytes_of_the_mail():
    raw = raw_mail("Caf\xe9 froid".encode("latin-1"), content_type="text/plain; charset=iso-8859-1")
    note = read_notification(notification(content=base64.b64encode(raw).decode(),
                                          receipt__action={"type": "SNS", "topicArn": "arn:x", "encoding": "BASE64"}))
    assert note.content == raw
    assert parse(note.content).text == "Café froid"


def test_a_null_sender_is_an_empty_source_and_recipients_are_lower_cased():
    note = read_notification(notification(mail__source="<>", receipt__recipients=["Line8@Feedback.Example.com"]))
    assert note.source == "" and note.destination == ("line8@feedback.example.com",)


def test_missing_verdicts_read_as_disabled():
    note = read_notification(notification(receipt__dmarcVerdict=None, receipt__spamVerdict={"status": "gray"}))
    assert note.verdicts["dmarc"] == "DISABLED" and note.verdicts["spam"] == "GRAY"


@pytest.mark.parametrize("message", [
    "not json", "[]", "null", json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded"}),
    notification(notificationType="Bounce"), notification(mail=None), notification(receipt=None),
    notification(mail__messageId=None), notification(mail__messageId="../../etc/passwd"),
    notification(mail__messageId="x" * 129), notification(mail__timestamp="yesterday"),
    notification(mail__timestamp=None), notification(receipt__recipients="line8@x.com", mail__destination=None),
    notification(receipt__action=None), notification(receipt__action={"type": "Lambda"}), notification(content=None),
    notification(receipt__action={"type": "S3", "topicArn": "arn:x"}),
    notification(content="%%%not base64", receipt__action={"type": "SNS", "encoding": "BASE64"}),
])
def test_a_notification_that_cannot_be_read_is_rejected(message):
    with pytest.raises(MailRejected):
        read_notification(message)


@pytest.mark.parametrize(("verdict", "status", "expected"), [
    ("spam", "FAIL", "spam"), ("virus", "FAIL", "virus"), ("spf", "FAIL", "spf"), ("dkim", "FAIL", "dkim"),
    ("dmarc", "FAIL", "dmarc"), ("spam", "GRAY", None), ("dmarc", "PROCESSING_FAILED", None),
    ("virus", "DISABLED", None), ("spf", "fail", "spf"),
])
def test_a_failed_check_makes_the_mail_suspect(verdict, status, expected):
    verdicts = {name: "PASS" for name in ("spam", "virus", "spf", "dkim", "dmarc")} | {verdict: status}
    assert suspect(verdicts) == expected


def test_a_spoofed_sender_failing_dmarc_is_suspect_from_the_notification():
    note = read_notification(notification(receipt__dmarcVerdict={"status": "FAIL"}, receipt__spfVerdict={
        "status": "FAIL"}, receipt__dmarcPolicy="reject"))
    assert suspect(note.verdicts) == "dmarc"
    assert suspect({"virus": "FAIL", "spam": "FAIL"}) == "virus"


# --- parsing: bad input never raises ------------------------------------------------------------------------

def test_a_declared_utf8_body_in_latin1_bytes_is_read_as_latin1():
    got = parse(raw_mail("Le si\xe8ge \xe9tait cass\xe9".encode("latin-1"), cte="8bit"))
    assert got.text == "Le siège était cassé"


def test_an_unknown_or_missing_charset_falls_back_to_utf8_then_latin1():
    assert parse(raw_mail("Caf\xe9 tiède".encode(), content_type="text/plain; charset=x-martian")).text == "Café tiède"
    assert parse(raw_mail("Caf\xe9".encode("latin-1"), content_type="text/plain")).text == "Café"
    assert parse(raw_mail("déjà vu".encode(), content_type="text/plain; charset=punycode")).text == "déjà vu"


def test_control_characters_and_lone_surrogates_never_reach_the_store():
    got = parse(raw_mail(b"caf+2AA-\x00 ok", content_type="text/plain; charset=utf-7",
                         headers={"Subject": "=?utf-7?q?a+2AA-b?=", "From": "=?utf-8?q?A=00nn?= <ann@x.com>"}))
    assert got.text == "caf ok" and got.subject == "ab" and got.sender_name == "Ann"
    got.text.encode("utf-8")


def test_a_header_in_an_unknown_encoding_is_still_read():
    got = parse(raw_mail("ok", headers={"Subject": "=?x-martian?q?Caf=E9?=", "From": "=?utf-8?q?Ren=C3=A9?= <r@x.fr>"}))
    assert got.sender == "r@x.fr" and got.sender_name == "René" and "Caf" in got.subject


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff\xfe garbage", b"From: \r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhalf a mail",
    b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64!!!",
    b"Subject: =?utf-8?b?broken\r\nFrom: <<<>>>\r\nMessage-ID: no brackets\r\n\r\nhello",
    b"From: a@b.c\r\nContent-Type: text/plain; charset=\"\r\n\r\nhello",
    b"Content-Type: multipart/alternative; boundary=x\r\n\r\n"
    + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 400,
    b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(60))
    + b"Content-Type: text/plain\r\n\r\ntoo deep",
], ids=["empty", "binary", "empty From", "no boundary", "unterminated", "bad base64", "broken headers",
        "open quote", "same boundary 400 times", "nested 60 deep"])
def test_malformed_mime_never_raises(raw):
    got = parse(raw)
    assert isinstance(got.text, str) and len(got.text) <= MAX_TEXT_CHARS
    assert got.attachments >= 0


def test_headers_that_crash_the_email_packages_parsers_are_still_read():
    """Python 3.11's policy.default raises IndexError on these values (found by fuzzing): the mail is read anyway."""
    crashing_type = raw_mail("the text", content_type="text/plain; .*", headers={"Subject": "=?utf-8?q?Caf=C3=A9?="})
    got = parse(crashing_type)
    assert got.text == "the text" and got.subject == "Café" and got.sender == "ann.smith@gmail.com"
    crashing_from = raw_mail("x", headers={"From": ',],=?x?b?, :"?', "Message-ID": "<[@a"})
    assert parse(crashing_from).sender == "" and parse(crashing_from).message_id_header is None
    crashing_disposition = raw_mail(
        "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: image/png\r\n"
        "Content-Disposition: attachment; [.filenameboundary%;filename*\r\n\r\nxx\r\n--b--\r\n",
        content_type="multipart/mixed; boundary=b")
    got = parse(crashing_disposition)
    assert got.text == "hi" and got.attachments == 1


def test_headers_in_raw_8bit_or_unknown_charsets_are_decoded():
    got = parse(raw_mail("x", headers={"Subject": "Caf\xe9 cr\xe8me"}).replace(b"Caf\xc3\xa9 cr\xc3\xa8me",
                                                                             b"Caf\xe9 cr\xe8me"))
    assert got.subject == "Café crème"
    got = parse(raw_mail("x", headers={"Subject": "Re: =?x-martian?q?Caf=E9?= froid \u20ac",
                                       "From": "=?utf-8?q?Smith=2C_Ann?= <Ann@X.com>"}))
    assert got.subject == "Re: Café froid €" and got.sender == "ann@x.com" and got.sender_name == "Smith, Ann"
    folded = parse(raw_mail("x", headers={"Subject": "=?utf-8?q?one?=\r\n =?utf-8?q?_two?="}))
    assert folded.subject == "one two"
    assert parse(raw_mail("x", headers={"Subject": "=?utf-8?b?broken"})).subject == "=?utf-8?b?broken"


def test_an_empty_mail_has_empty_text():
    got = parse(raw_mail(""))
    assert got.text == "" and got.attachments == 0 and got.truncated is False and got.automatic is None
    assert parse(b"").text == "" and parse(b"").sender == ""


def test_a_10_mb_mail_is_read_quickly_and_its_text_capped():
    words = ("The coach was late again and nobody said anything. " * 210_000).encode()
    assert len(words) > MAX_RAW_BYTES
    started = time.perf_counter()
    got = parse(raw_mail(words))
    assert time.perf_counter() - started < 5
    assert got.truncated is True and 0 < len(got.text) <= MAX_TEXT_CHARS
    assert got.text.startswith("The coach was late again")


def test_a_10_mb_attachment_is_counted_and_the_text_kept_quickly():
    blob = base64.encodebytes(b"\x89PNG" * (2 * 1024 * 1024)).replace(b"\n", b"\r\n")
    raw = raw_mail(b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the photo of the seat.\r\n"
                   b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
                   b"Content-Disposition: attachment; filename=seat.png\r\n\r\n" + blob + b"\r\n--b--\r\n",
                   content_type="multipart/mixed; boundary=b")
    assert len(raw) > 10 * 1000 * 1000
    started = time.perf_counter()
    got = parse(raw)
    assert time.perf_counter() - started < 5
    assert got.text == "See the photo of the seat." and got.attachments == 1


def test_a_huge_html_only_mail_is_read_in_linear_time():
    html = "<p>" + "<b>late</b> again &amp; " * 400_000 + "</p>"
    started = time.perf_counter()
    got = parse(raw_mail(html, content_type="text/html; charset=utf-8"))
    assert time.perf_counter() - started < 5
    assert got.truncated and got.text.startswith("late again & late again")


# --- parsing: the text the customer wrote -------------------------------------------------------------------

def test_an_html_only_mail_is_turned_into_text():
    html = ("<html><head><title>Hi</title><style>p {color: red}</style></head><body>"
            "<script>alert('x')</script><p>The seat was <b>broken</b> &amp; dirty&nbsp;!</p>"
            "<p>Caf&eacute; &#233;t&#xE9;<br>second line<br/>third<span/></p><div>fourth</div>"
            "<table><tr><td>seat</td><td>12</td></tr></table></body></html>")
    got = parse(raw_mail(html, content_type="text/html; charset=utf-8"))
    assert got.text == "The seat was broken & dirty !\n\nCafé été\nsecond line\nthird\n\nfourth\nseat 12"
    assert "alert" not in got.text and "color" not in got.text and "Hi" not in got.text


def test_html_the_parser_gives_up_on_keeps_what_was_read():
    got = parse(raw_mail("<p>The toilet was locked.</p><![x]><p>never read</p>", content_type="text/html"))
    assert got.text == "The toilet was locked."


def test_multipart_alternative_prefers_the_plain_text():
    raw = raw_mail("--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>from the <i>html</i></p>\r\n"
                   "--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfrom the plain text\r\n--a--\r\n",
                   content_type="multipart/alternative; boundary=a")
    got = parse(raw)
    assert got.text == "from the plain text" and got.attachments == 0


def test_an_empty_plain_alternative_falls_back_to_the_html():
    raw = raw_mail("--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n"
                   "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>only here</p>\r\n"
                   "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>a second html part</p>\r\n--a--\r\n",
                   content_type="multipart/alternative; boundary=a")
    assert parse(raw).text == "only here"


def test_attachments_are_counted_never_kept():
    raw = raw_mail(
        "--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
        "--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPhotos attached.\r\n"
        "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Photos attached.</p>\r\n--a--\r\n"
        "--m\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRg==\r\n"
        "--m\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\n"
        "SECRET NOTES\r\n"
        "--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.com\r\nSubject: fwd\r\n\r\nforwarded body\r\n--m--\r\n",
        content_type="multipart/mixed; boundary=m")
    got = parse(raw)
    assert got.text == "Photos attached." and got.attachments == 3
    assert "SECRET" not in repr(got) and "forwarded" not in repr(got)


@pytest.mark.parametrize(("body", "expected"), [
    ("The driver was great.\n\nOn Mon, 30 Nov 2026 at 09:12, Voix <line8@feedback.example.com> wrote:\n"
     "> Thank you for your feedback\n> about line 8", "The driver was great."),
    ("The driver was great.\n\nOn Mon, 30 Nov 2026 at 09:12, Voix Line 8 <\nline8@feedback.example.com> wrote:\n"
     "> Thank you", "The driver was great."),
    ("Le chauffeur était super.\n\nLe lun. 30 nov. 2026 à 09:12, Voix <line8@feedback.example.com> a écrit :\n"
     "> Merci pour votre avis", "Le chauffeur était super."),
    ("Still no heating.\n\n________________________________\nFrom: Voix <line8@feedback.example.com>\n"
     "Sent: Monday, November 30, 2026 9:12 AM\nTo: Ann Smith <ann@outlook.com>\nSubject: Re: Coach\n\n"
     "Thank you for your feedback", "Still no heating."),
    ("Still no heating.\n\n-----Original Message-----\nFrom: Voix\nSent: Monday\n\nThank you", "Still no heating."),
    ("Toujours pas de chauffage.\n\nDe : Voix <line8@feedback.example.com>\nEnvoyé : lundi 30 novembre 2026 09:12\n"
     "À : Claire\nObjet : Re: Car\n\nMerci", "Toujours pas de chauffage."),
    ("Thanks!\n> quoted line\nmy answer below it\n>> older", "Thanks!\nmy answer below it"),
    ("The wifi is down.\n\n-- \nAnn Smith\nAccountant, Leeds", "The wifi is down."),
    ("The wifi is down.\n\nSent from my iPhone", "The wifi is down."),
    ("Le wifi ne marche pas.\n\nEnvoyé de mon iPhone\n\nLe 30 nov. 2026 à 09:12, Voix a écrit :\n> Merci",
     "Le wifi ne marche pas."),
    ("Sent from London to Leeds, the parcel was lost on the way and nobody could tell me where it went.",
     "Sent from London to Leeds, the parcel was lost on the way and nobody could tell me where it went."),
    ("From: my seat I could see the driver on the phone.\nIt lasted an hour.",
     "From: my seat I could see the driver on the phone.\nIt lasted an hour."),
    ("  lots   of \t spaces  \n\n\n\n\nand lines\u200b  ", "lots of spaces\n\nand lines"),
    ("On Mon, 30 Nov 2026 at 09:12, Voix <line8@feedback.example.com> wrote:\n> Thank you for your feedback\n\n"
     "My answer is below the quote.", "My answer is below the quote."),
])
def test_quoted_replies_and_signatures_are_stripped(body, expected):
    assert parse(raw_mail(body)).text == expected


def test_format_flowed_paragraphs_are_joined_and_the_signature_still_found():
    body = "The coach left without \r\nus at 9:40 and the \r\ndriver did not wait.\r\n> quoted \r\nline\r\n-- \r\nAnn"
    got = parse(raw_mail(body, content_type="text/plain; charset=utf-8; format=flowed"))
    assert got.text == "The coach left without us at 9:40 and the driver did not wait.\nline"
    delsp = parse(raw_mail("Le car est par \r\nti sans nous.", content_type="text/plain; format=flowed; delsp=yes"))
    assert delsp.text == "Le car est parti sans nous."
    fixed = parse(raw_mail("Two \r\nlines", content_type="text/plain; charset=utf-8"))
    assert fixed.text == "Two\nlines"


def test_quoted_replies_in_html_are_dropped():
    html = ('<div dir="ltr">Great, thanks.<br></div><br><div class="gmail_quote"><div class="gmail_attr">On Mon, '
            'Voix wrote:<br></div><blockquote class="gmail_quote">Thank you<div>nested</div></blockquote></div>'
            '<div>after the quote</div>')
    assert parse(raw_mail(html, content_type="text/html; charset=utf-8")).text == "Great, thanks.\n\nafter the quote"


def test_a_long_text_is_capped_and_says_so():
    got = parse(raw_mail("word " * 1000))
    assert len(got.text) <= MAX_TEXT_CHARS and got.truncated is True
    short = parse(raw_mail("word " * 10))
    assert short.truncated is False


def test_subject_is_decoded_one_line_and_capped():
    got = parse(raw_mail("x", headers={"Subject": "=?utf-8?q?Caf=C3=A9_froid?=\r\n  and\r\n\tcold " + "y" * 300}))
    assert got.subject.startswith("Café froid and cold yyy") and len(got.subject) == 200 and "\n" not in got.subject


def test_thread_ids_are_kept_for_the_answer():
    got = parse(raw_mail("x", headers={"Message-ID": "<new@mail.gmail.com>", "References": "<a@x> <b@x>",
                                       "In-Reply-To": "<b@x>"}))
    assert got.message_id_header == "<new@mail.gmail.com>" and got.references == ("<a@x>", "<b@x>")
    assert parse(raw_mail("x", headers={"Message-ID": None})).message_id_header is None


def test_an_unreadable_from_gives_an_empty_sender():
    assert parse(raw_mail("x", headers={"From": "not an address"})).sender == ""
    assert parse(raw_mail("x", headers={"From": None})).sender == ""


# --- mails never to answer -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "auto-submitted"),
    ({"Auto-Submitted": "auto-generated; owner-email=x@y.com"}, "auto-submitted"),
    ({"X-Autoreply": "yes"}, "auto-submitted"),
    ({"Precedence": "bulk"}, "precedence"), ({"Precedence": "list"}, "precedence"),
    ({"Precedence": "junk"}, "precedence"), ({"Precedence": "auto_reply"}, "precedence"),
    ({"List-Id": "<news.example.com>"}, "list"), ({"List-Unsubscribe": "<mailto:u@example.com>"}, "list"),
    ({"Return-Path": "<>"}, "null-sender"),
    ({"Subject": "Automatic reply: Coach"}, "auto-reply-subject"), ({"Subject": "Out of Office: back Monday"},
                                                                     "auto-reply-subject"),
    ({"Subject": "Réponse automatique : Absent"}, "auto-reply-subject"),
    ({"Subject": "RE: Absence du bureau"}, "auto-reply-subject"),
    ({"From": "MAILER-DAEMON@mx.example.com"}, "bounce"), ({"From": "postmaster@example.com"}, "bounce"),
    ({"Subject": "Undeliverable: Re: Coach"}, "bounce"),
    ({"Content-Type": "multipart/report; report-type=delivery-status; boundary=r"}, "bounce"),
])
def test_automatic_mails_are_never_answered(headers, reason):
    assert parse(raw_mail("I am away.", headers=headers)).automatic == reason


def test_auto_submitted_no_and_ordinary_precedence_are_answered():
    assert parse(raw_mail("x", headers={"Auto-Submitted": "no", "Precedence": "first-class"})).automatic is None


def test_a_null_envelope_sender_and_our_own_address_are_never_answered():
    assert parse(raw_mail("x"), envelope_sender="").automatic == "null-sender"
    assert parse(raw_mail("x"), envelope_sender="<>").automatic == "null-sender"
    assert parse(raw_mail("x"), envelope_sender="ann.smith@gmail.com").automatic is None
    ours = ["line8@feedback.example.com"]
    spoof = raw_mail("x", headers={"From": "Voix <Line8@Feedback.example.com>"})
    assert parse(spoof, own_addresses=ours).automatic == "own-address"
    assert parse(raw_mail("x"), envelope_sender="line8@feedback.example.com", own_addresses=ours).automatic == (
        "own-address")
    assert parse(spoof, own_addresses=[" LINE8@feedback.example.com "]).automatic == "own-address"
    bounce = parse(raw_mail("x"), envelope_sender="MAILER-DAEMON@eu-west-1.amazonses.com")
    assert bounce.automatic == "bounce"


def test_two_auto_responders_stop_after_one_message():
    """Our auto-reply, read back as if another auto-responder had bounced it to us, is never answered."""
    ours = reply_message(sender="Voix <line8@feedback.example.com>", to="ann@example.com", subject="Re: Coach",
                         text="Thanks", message_id="<r1@feedback.example.com>", in_reply_to="<m1@x>", references=[])
    assert parse(ours, own_addresses=["line8@feedback.example.com"]).automatic == "auto-submitted"
    their_auto_reply = raw_mail("I am out of the office.", headers={
        "Subject": "Automatic reply: Re: Coach", "In-Reply-To": "<r1@feedback.example.com>"})
    assert parse(their_auto_reply).automatic == "auto-reply-subject"


# --- addresses -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("Ann <Ann.Smith@Gmail.COM>", "ann.smith@gmail.com"), ("  ann@gmail.com ", "ann@gmail.com"),
    ('"Smith, Ann" <ann+voix@mail.co.uk>', "ann+voix@mail.co.uk"), ("mailto:Ann@Example.org", "ann@example.org"),
    ("rené@exämple.fr", "rené@xn--exmple-cua.fr"), ("a@b.co.", "a@b.co"),
])
def test_addresses_are_normalised(raw, expected):
    assert normalise_address(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "ann", "ann@", "@gmail.com", "ann@gmail", "ann@@gmail.com", "ann smith@gmail.com", "ann@gmail..com",
    "ann.@gmail.com", ".ann@gmail.com", "ann@-gmail.com", "ann@gmail.123", "a" * 65 + "@x.com",
    "ann@" + "a" * 64 + ".com", "a@" + ".".join(["abcdefghi"] * 30) + ".com", "x" * 600, "+447700900123",
    "ann@exa_mple.com", None,
])
def test_invalid_addresses_are_refused(raw):
    with pytest.raises(InvalidAddress):
        normalise_address(raw)


def test_is_address_tells_bare_addresses_from_other_text():
    assert is_address("ann@gmail.com") and is_address("Ann@Gmail.com")
    assert not is_address("+447700900123") and not is_address("Ann <ann@gmail.com>")
    assert not is_address(None) and not is_address("") and not is_address("hello")


def test_addresses_are_masked_for_display():
    assert mask_address("ann.smith@gmail.com") == "a•••@gmail.com"
    assert mask_address("z@orange.fr") == "z•••@orange.fr"
    assert mask_address("") == "" and mask_address("garbage") == "•••"


# --- subjects and commands -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("subject", "text", "expected"), [
    ("L12 climatisation en panne", "", "L12"), ("l12: too hot", "", "L12"), ("Re: L8 late", "", "L8"),
    ("Fwd: RE: [L8] late", "", "L8"), ("TR : l12", "", "L12"), ("Hello", "\n\n  L8 the coach is late\nbye", "L8"),
    ("Coach", "the L8 coach is late", None), ("L88 late", "", None), ("", "", None), ("L8X", "L12", "L12"),
])
def test_a_site_code_leads_the_subject_or_the_first_line(subject, text, expected):
    assert leading_code(subject, text, ["L8", "L12", "LIGNE12"]) == expected


@pytest.mark.parametrize(("subject", "text", "expected"), [
    ("STOP", "", True), ("Re: unsubscribe", "", True), ("", "Stop\n\nthanks", True), ("Unsubscribe me", "", True),
    ("", "Désabonner", True), ("désinscrire", "", True), ("", "Merci de me désinscrire svp", True),
    ("", "Désabonnez-moi", True), ("Re: Coach", "STOP please", True),
    ("Re: Coach", "The bus did not stop at Leeds", False), ("Stop the music", "", False), ("", "", False),
    ("Re: Coach", "Hello\nSTOP", False),
    # the whole mail, never its first line or subject alone (review of issue 24)
    ("Cancel", "My coach to London was cancelled and nobody told us. I want a refund.", False),
    ("Visit", "Stop\nThe driver was rude", False), ("Stop", "The driver was rude", False),
    ("Stop", "Stop", True), ("Quit", "", True), ("Coach", "STOP", False),
])
def test_a_mail_asking_to_unsubscribe_is_recognised(subject, text, expected):
    assert wants_unsubscribe(subject, text) is expected


@pytest.mark.parametrize(("subject", "language", "expected"), [
    ("Coach", "en", "Re: Coach"), ("Re: Coach", "en", "Re: Coach"), ("RE: re: Coach", "en", "Re: Coach"),
    ("Fwd: Coach", "en", "Re: Fwd: Coach"), ("", "en", "Re: Your feedback"), ("  ", "fr", "Re: Votre avis"),
    ("Ré : Car", "fr", "Re: Car"), ("a\r\nBcc: x@y.com", "en", "Re: a Bcc: x@y.com"),
])
def test_reply_subject(subject, language, expected):
    assert reply_subject(subject, language) == expected


# --- the reply -------------------------------------------------------------------------------------------------

def test_a_reply_is_threaded_marked_automatic_and_offers_one_click_unsubscribe(monkeypatch):
    monkeypatch.setattr(clock, "source", lambda: datetime(2026, 12, 3, 8, 15, tzinfo=UTC))
    raw = reply_message(
        sender="Voix ligne 12 <ligne12@feedback.example.com>", to="Claire.Martin@Orange.fr",
        subject=reply_subject("L12 climatisation", "fr"),
        text="Merci Claire, votre message a été transmis à l'équipe de la ligne. Désolés pour la chaleur à bord !",
        message_id="<reply-1@feedback.example.com>", in_reply_to="<1796288549812.41027@orange.fr>",
        references=["<root@orange.fr>"], unsubscribe_url="https://voix.example.com/u/abc123",
        unsubscribe_mailto="unsubscribe@feedback.example.com")
    assert isinstance(raw, bytes) and b"\r\n" in raw and max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["From"].addresses[0].addr_spec == "ligne12@feedback.example.com"
    assert str(msg["To"]) == "claire.martin@orange.fr"
    assert str(msg["Subject"]) == "Re: L12 climatisation"
    assert msg["Date"].datetime == datetime(2026, 12, 3, 8, 15, tzinfo=UTC)
    assert str(msg["Message-ID"]) == "<reply-1@feedback.example.com>"
    assert str(msg["In-Reply-To"]) == "<1796288549812.41027@orange.fr>"
    assert str(msg["References"]).split() == ["<root@orange.fr>", "<1796288549812.41027@orange.fr>"]
    assert str(msg["Auto-Submitted"]) == "auto-replied"
    assert str(msg["List-Unsubscribe"]) == (
        "<https://voix.example.com/u/abc123>, <mailto:unsubscribe@feedback.example.com?subject=unsubscribe>")
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().strip() == ("Merci Claire, votre message a été transmis à l'équipe de la ligne. "
                                         "Désolés pour la chaleur à bord !")
    assert all(byte < 128 for byte in raw)  # quoted-printable: any relay carries it


def test_a_staff_reply_without_unsubscribe_is_not_automatic_and_has_no_list_headers():
    raw = reply_message(sender="line8@feedback.example.com", to="ann@gmail.com", subject="Re: Coach",
                        text="Hello", message_id="r2@feedback.example.com", in_reply_to=None, references=[],
                        automatic=False)
    msg = message_from_bytes(raw, policy=policy.default)
    assert str(msg["Message-ID"]) == "<r2@feedback.example.com>"
    for name in ("Auto-Submitted", "In-Reply-To", "References", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert msg[name] is None


def test_a_mailto_only_unsubscribe_has_no_one_click_post():
    raw = reply_message(sender="line8@feedback.example.com", to="ann@gmail.com", subject="Re: Coach", text="Hi",
                        message_id="<r3@x.com>", in_reply_to="<m@x>", references=["<m@x>"],
                        unsubscribe_mailto="mailto:unsubscribe@feedback.example.com")
    msg = message_from_bytes(raw, policy=policy.default)
    # folded on a second line (the header is over 78 characters): a reader unfolds it
    assert str(msg["List-Unsubscribe"]).strip() == "<mailto:unsubscribe@feedback.example.com?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None
    assert str(msg["References"]) == "<m@x>"


def test_a_reply_from_an_accented_name_reads_back_and_lists_each_id_once():
    raw = reply_message(sender="Voix – Ligne 12 <ligne12@feedback.example.com>", to="claire@orange.fr",
                        subject="Re: Car trop chaud ☀", text="Bien reçu.", message_id="<r4@feedback.example.com>",
                        in_reply_to="<b@x>", references=["<a@x> <b@x>"])
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["From"].addresses[0].display_name == "Voix – Ligne 12"
    assert str(msg["Subject"]) == "Re: Car trop chaud ☀"
    assert str(msg["References"]).split() == ["<a@x>", "<b@x>"]
    assert parse(raw).text == "Bien reçu."


def test_a_long_thread_keeps_its_root_and_the_latest_references():
    refs = [f"<m{i}@x.com>" for i in range(30)]
    raw = reply_message(sender="a@x.com", to="b@y.com", subject="Re: x", text="x", message_id="<r@x.com>",
                        in_reply_to="<m30@x.com>", references=[" ".join(refs), "not an id"])
    ids = str(message_from_bytes(raw, policy=policy.default)["References"]).split()
    assert len(ids) == 10 and ids[0] == "<m0@x.com>" and ids[-1] == "<m30@x.com>" and ids[-2] == "<m29@x.com>"


def test_a_reply_refuses_header_injection_and_bad_arguments():
    raw = reply_message(sender="a@x.com", to="b@y.com", subject="Re: x\r\nBcc: evil@z.com", text="x",
                        message_id="<r@x.com>", in_reply_to=None, references=[])
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and str(msg["Subject"]) == "Re: x Bcc: evil@z.com"
    with pytest.raises(ValueError):
        reply_message(sender="a@x.com", to="b@y.com", subject="x", text="x", message_id="", in_reply_to=None,
                      references=[])
    with pytest.raises(ValueError):
        reply_message(sender="a@x.com", to="b@y.com", subject="x", text="x", message_id="<r@x.com>",
                      in_reply_to=None, references=[], unsubscribe_url="javascript:alert(1)")
    with pytest.raises(InvalidAddress):
        reply_message(sender="a@x.com", to="not an address", subject="x", text="x", message_id="<r@x.com>",
                      in_reply_to=None, references=[])


def test_the_module_is_the_interface_other_modules_import():
    assert set(mail.__all__) >= {"read_notification", "suspect", "parse", "normalise_address", "is_address",
                                 "mask_address", "leading_code", "wants_unsubscribe", "reply_subject",
                                 "reply_message", "MailRejected", "InvalidAddress", "Notification", "Mail"}
