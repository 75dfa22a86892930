"""Who reads which language (``languages`` of a site and of the deployment in ``sites.toml``).

The lists of staff numbers and e-mail addresses stay plain lists; a reader whose language is not the
default (the site's ``language``, or the deployment's ``default_language`` for central care) is named
in a table beside them::

    languages = { "+447700900801" = "fr", "ligne12@example.com" = "en" }
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator

from chalicelib.phone import InvalidNumber, normalise

HELP = "Who reads another language than the default: number (E.164) or e-mail address = en | fr"


def _key(reader: str) -> str:
    """A reader as the lists hold it: a number in E.164, an address in lower case."""
    if re.match(r"\s*(\+|00)\d", reader):
        try:
            return normalise(reader)
        except InvalidNumber as exc:
            raise ValueError(f"{reader!r} is not a valid phone number") from exc
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", reader):
        raise ValueError(f"{reader!r} is neither a phone number in international format nor an e-mail address")
    return reader.lower()


def _keys(languages: dict[str, str]) -> dict[str, str]:
    return {_key(reader): language for reader, language in languages.items()}


Readers = Annotated[dict[str, Literal["en", "fr"]], AfterValidator(_keys)]


def unknown(languages: dict[str, str], *lists: list[str]) -> str | None:
    """The first reader of ``languages`` that none of ``lists`` names (a typo), if any."""
    known = {entry.lower() for listed in lists for entry in listed}
    return next((reader for reader in languages if reader not in known), None)
