"""Signature checks and bad input on the Twilio webhook: clear 4xx, nothing half-stored."""

from __future__ import annotations

import random
import string
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from chalicelib.channels.twilio import compute_signature, is_valid_signature
from tests.conftest import TWILIO_TOKEN, WEBHOOK_URL, post_sms, sign, table_items, twilio_params


class MultiDict(dict):
    """What the official validator reads repeated parameters from (like Flask's MultiDict)."""

    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = list(pairs)

    def getall(self, key):
        return [v for k, v in self.pairs if k == key]


def random_params(rng):
    alphabet = string.ascii_letters + string.digits + " éàü€😀&=+%?"
    params = []
    for _ in range(rng.randint(1, 8)):
        name = rng.choice(["Body", "From", "To", "MessageSid", "X", "MediaUrl0", "Zeta"])
        params.append((name, "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))))
    return params


def test_our_signature_matches_the_official_twilio_library_on_random_requests():
    rng = random.Random(42)
    validator = RequestValidator(TWILIO_TOKEN)
    for _ in range(300):
        params = random_params(rng)
        url = rng.choice([WEBHOOK_URL, "https://abc.execute-api.eu-west-2.amazonaws.com/api/sms/twilio?x=1"])

        multi = MultiDict(params)
        expected = validator.compute_signature(url, multi)
        assert compute_signature(TWILIO_TOKEN, url, params) == expected
        assert is_valid_signature(TWILIO_TOKEN, url, params, expected)


def test_signature_with_the_default_port_spelled_out_is_accepted_like_the_official_validator():
    params = [("Body", "hi")]
    signature = compute_signature(TWILIO_TOKEN, "https://voix.example.com:443/api/sms/twilio", params)
    assert is_valid_signature(TWILIO_TOKEN, WEBHOOK_URL, params, signature)


def test_a_stage_prefixed_url_signed_by_twilio_is_accepted(client):
    # The configured URL carries API Gateway's stage (/api/...), which Request.path does not.
    response = post_sms(client, twilio_params(), signature=sign(twilio_params(), WEBHOOK_URL))
    assert response.status_code == 200
    assert "/api/" in WEBHOOK_URL


@pytest.mark.parametrize("case", ["missing", "garbage", "other_url", "other_token", "altered_body"])
def test_forged_requests_are_refused_with_403_and_nothing_is_stored(client, case):
    params = twilio_params(sid="SM" + "9" * 32)
    signature = {
        "missing": "",
        "garbage": "bm90LWEtc2lnbmF0dXJl",
        "other_url": sign(params, "https://evil.example.com/sms/twilio"),
        "other_token": sign(params, token="another-account-token"),
        "altered_body": sign(params),
    }[case]
    if case == "altered_body":
        params = {**params, "Body": "L8 everything is great, no need to call"}
    response = post_sms(client, params, signature=signature)
    assert response.status_code == 403
    assert response.json_body == {"error": "invalid Twilio signature"}
    assert table_items() == []


def test_repeated_parameters_are_signed_as_twilio_signs_them_but_refused(client):
    """Twilio never repeats a parameter of an inbound SMS: a signed repeat is a re-cut request."""
    params = [("MessageSid", "SM" + "8" * 32), ("AccountSid", "AC" + "1" * 32), ("From", "+447700900123"),
              ("To", "+447700900008"), ("Body", "L8 cold"), ("MediaUrl", "b"), ("MediaUrl", "a"), ("NumMedia", "0")]
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(WEBHOOK_URL, MultiDict(params))  # official
    assert signature == compute_signature(TWILIO_TOKEN, WEBHOOK_URL, params)
    response = client.http.post("/sms/twilio", body=urlencode(params), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    assert response.status_code == 403 and "MediaUrl is repeated" in response.json_body["error"]
    assert table_items() == []


def signed_raw(client, body: bytes, content_type="application/x-www-form-urlencoded", signature="x"):
    return client.http.post("/sms/twilio", body=body,
                            headers={"Content-Type": content_type, "X-Twilio-Signature": signature})


@pytest.mark.parametrize("name,make,status,message", [
    ("empty body", lambda: signed_raw_args(b""), 400, "empty body"),
    ("20 kB body", lambda: signed_raw_args(urlencode(twilio_params(body="x" * 20_000)).encode()), 413, "larger"),
    ("invalid UTF-8", lambda: signed_raw_args(b"Body=%FF%FE&From=%2B447700900123"), 400, "form"),
    ("raw invalid UTF-8", lambda: signed_raw_args(b"Body=\xff\xfe"), 400, "UTF-8"),
    ("JSON instead of form", lambda: signed_raw_args(b'{"Body": "hi"}', "application/json"), 415, "expected"),
    ("malformed form", lambda: signed_raw_args(b"Body"), 400, "form"),
])
def test_unreadable_requests_get_a_clear_4xx(client, name, make, status, message):
    body, content_type = make()
    response = signed_raw(client, body, content_type)
    assert response.status_code == status, name
    assert message in response.json_body["error"]
    assert table_items() == []


def signed_raw_args(body, content_type="application/x-www-form-urlencoded"):
    return body, content_type


@pytest.mark.parametrize("change,status,message", [
    ({"From": None}, 403, "missing Twilio parameter From"),
    ({"From": ""}, 400, "missing field From"),
    ({"From": "not-a-number"}, 400, "not a phone number"),
    ({"From": "+1"}, 400, "phone number"),
    ({"To": "12"}, 400, "phone number"),
    ({"MessageSid": "SM/../../etc"}, 403, "MessageSid is not a Twilio message id"),
    ({"NumMedia": "lots"}, 403, "NumMedia is not a count"),
    ({"Body": "x" * 10_000}, 400, "body"),
    # signed, but not of the shape Twilio sends (a re-cut request): 403
    ({"MessageSid": "SMx"}, 403, "MessageSid is not a Twilio message id"),
    ({"MessageSid": "SM" + "A" * 32}, 403, "MessageSid is not a Twilio message id"),  # Twilio's hex is lower case
    ({"MessageSid": "XX" + "a" * 32}, 403, "MessageSid is not a Twilio message id"),
    ({"SmsSid": "SM" + "b" * 32}, 403, "SmsSid differs from MessageSid"),
    ({"SmsMessageSid": "SM" + "c" * 32}, 403, "SmsMessageSid differs from MessageSid"),
    ({"AccountSid": "AC" + "2" * 32}, 403, "AccountSid is not this deployment's Twilio account"),
    ({"AccountSid": None}, 403, "missing Twilio parameter AccountSid"),
    ({"NumMedia": None}, 403, "missing Twilio parameter NumMedia"),
    ({"Body": None}, 403, "missing Twilio parameter Body"),
    ({"NumSegments": "1x"}, 403, "NumSegments is not a count"),
])
def test_signed_but_invalid_fields_get_4xx_and_nothing_is_stored(client, change, status, message):
    params = twilio_params(sid="SM" + "7" * 32)
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    response = post_sms(client, params)
    assert response.status_code == status
    assert message in response.json_body["error"]
    assert table_items() == []


@pytest.mark.parametrize("number", ["07700 900123", "+44 (0)7700 900123", "0044 7700-900-123", "+44.7700.900.123"])
def test_odd_but_valid_number_formats_are_normalised_to_e164(client, number):
    response = post_sms(client, twilio_params(frm=number, sid="SM" + "6" * 32))
    assert response.status_code == 200
    [message] = table_items("MSG#")
    assert message["from_number"] == "+447700900123"


def test_control_characters_are_removed_and_a_long_concatenated_sms_is_accepted(client):
    body = "L8 " + "too cold \x00\x07 " * 100
    response = post_sms(client, twilio_params(body=body[:1600], sid="SM" + "5" * 32))
    assert response.status_code == 200
    [message] = table_items("MSG#")
    assert "\x00" not in message["text"] and "\x07" not in message["text"]


def test_twiml_escapes_the_reply_and_stays_well_formed():
    from xml.etree import ElementTree

    from chalicelib.channels.twilio import twiml

    xml = twiml('Code <V2X> & "merci"</Message><Redirect>http://x</Redirect>')
    root = ElementTree.fromstring(xml)
    assert [child.tag for child in root] == ["Message"]
    assert root.find("Message").text == 'Code <V2X> & "merci"</Message><Redirect>http://x</Redirect>'


# -- a signed request re-cut at its boundaries (issue 14.1) ------------------------------------------
def boundary_shifted(params: dict[str, str]) -> dict[str, str]:
    """Move the boundary between ``MessageSid``'s value and the next key: same signed string."""
    sid = params["MessageSid"]
    shifted = {k: v for k, v in params.items() if k not in ("MessageSid", "NumMedia", "NumSegments")}
    # "MessageSid" + sid + "NumMedia" + "0" + "NumSegments" + "1" == "MessageSid" + sid + "NumMedia0NumSegments1"
    shifted["MessageSid"] = sid + "NumMedia" + params["NumMedia"] + "NumSegments" + params["NumSegments"]
    return shifted


def test_a_signed_request_recut_at_its_boundaries_is_refused_and_nothing_is_stored(client):
    from tests.conftest import sent_emails, sent_sms

    params = twilio_params(body="L8 the heating is broken, freezing", sid="SM" + "ab" * 16, NumSegments="1",
                           SmsSid="SM" + "ab" * 16, SmsMessageSid="SM" + "ab" * 16)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(WEBHOOK_URL, params)
    forged = boundary_shifted(params)
    # the official validator accepts the re-cut request: the signature alone cannot tell
    assert RequestValidator(TWILIO_TOKEN).validate(WEBHOOK_URL, forged, signature)
    response = post_sms(client, forged, signature=signature)
    assert response.status_code == 403 and "not a Twilio request" in response.json_body["error"]
    assert table_items() == [] and sent_sms() == [] and sent_emails() == []
    assert post_sms(client, params, signature=signature).status_code == 200  # the original is taken
    assert len(table_items("MSG#")) == 1


def test_a_repeated_parameter_is_refused(client):
    params = list(twilio_params(sid="SM" + "8" * 32).items()) + [("Body", "L8 a second body")]
    body = urlencode(params)
    signature = compute_signature(TWILIO_TOKEN, WEBHOOK_URL, params)
    response = client.http.post("/sms/twilio", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    assert response.status_code == 403 and "repeated" in response.json_body["error"]
    assert table_items() == []


def test_an_mms_sid_is_taken(client):
    assert post_sms(client, twilio_params(sid="MM" + "7" * 32, NumMedia="1")).status_code == 200
