"""Phone numbers: E.164 normalisation, masking for display (e-mail addresses too), keyed linking."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers


class InvalidNumber(ValueError):
    """A number that cannot be read as a phone number."""


def region_of(number: str | None) -> str | None:
    """The ISO region of an E.164 number (used to read local formats), if known."""
    if not number:
        return None
    try:
        code = phonenumbers.parse(number, None).country_code
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_country_code(code)
    return None if region == "ZZ" else region


def normalise(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as E.164 (``+447700900123``) or raise :class:`InvalidNumber`.

    International numbers are accepted in any usual spelling (spaces, dots,
    dashes, brackets, ``00`` prefix); a national number is read in
    ``default_region`` (the country of the number the customer wrote to).
    """
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidNumber(f"not a phone number: {raw!r}")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask(number: str | None) -> str:
    """``+447700900123`` -> ``+44 77•• •••123``: enough to recognise, not to call (at least
    five digits hidden: 100,000 numbers fit)."""
    if not number:
        return ""
    if "@" in number:  # the e-mail channel's customer: a•••@gmail.com
        from chalicelib.mail import mask_address

        return mask_address(number)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "•" * max(0, len(number) - 3) + number[-3:]
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = str(parsed.national_number)
    keep_head = max(1, min(2, len(national) - 8))
    masked_from, masked_to = keep_head, len(national) - 3
    out = []
    seen = 0
    country_digits = len(str(parsed.country_code))
    skipped = 0
    for char in formatted:
        if char.isdigit():
            if skipped < country_digits:
                skipped += 1
                out.append(char)
                continue
            out.append("•" if masked_from <= seen < masked_to else char)
            seen += 1
        else:
            out.append(char)
    return "".join(out)


def customer_key(number: str, secret: bytes) -> str:
    """A keyed HMAC of the number (or normalised address): links one customer's messages without storing it."""
    return hmac.new(secret, number.encode(), hashlib.sha256).hexdigest()[:32]
