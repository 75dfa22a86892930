"""Messages that are commands, not feedback: consent keywords and staff acknowledgements (pure).

A keyword counts only as the whole message (any case, accents and surrounding
punctuation ignored): "STOP" opts out, "please stop the music" is feedback.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Keyword = Literal["opt_out", "opt_in", "help"]

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "OPT OUT",
                     "REVOKE", "REMOVE", "TD", "ARRET",
                     # what French customers write (the regulator's wording is "STOP SMS")
                     "STOP SMS", "ARRETER", "DESABONNER", "DESINSCRIRE", "DESINSCRIPTION", "DESABONNEMENT"})
# a keyword with a politeness around it is still the keyword: "Stop svp", "STOP please"
_POLITE = re.compile(r"^(?:(?:PLEASE|PLS|SVP|MERCI|THANKS|THANK YOU) )?(.+?)(?: (?:PLEASE|PLS|SVP|MERCI|THANKS|"
                     r"THANK YOU|S IL VOUS PLAIT|S IL TE PLAIT))?$")
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO", "AIDE"})
# what Twilio Advanced Opt-Out puts in OptOutType
CARRIER_TYPES: dict[str, Keyword] = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}

_EDGES = re.compile(r"^[\W_]+|[\W_]+$")  # punctuation, symbols and emoji around the word: "Stop 🛑", "(STOP)"
_SPACES = re.compile(r"\s+")
_STAFF = re.compile(
    r"^(?P<verb>OK|OKAY|FAIT|DONE|ACK|VU|PRIS|RESOLU|RESOLVED|CLOS|CLOSED)\s*[#:\-]?\s*(?P<code>\d{4})$")
_RESOLVE_VERBS = frozenset({"RESOLU", "RESOLVED", "CLOS", "CLOSED"})
# "R 4821 Sorry, I'm coming to your seat": the rest is relayed to the customer as typed
_RELAY = re.compile(r"^\s*(?:R|REP|REPLY|REPONSE|RÉPONSE)\s*[#:\-]?\s*(?P<code>\d{4})\b[\s:,\-]*(?P<text>.*)$",
                    re.IGNORECASE | re.DOTALL)


def normalise(text: str) -> str:
    """Upper case, accents removed, outer punctuation and inner runs of spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _EDGES.sub("", plain)).upper()


def keyword(text: str) -> Keyword | None:
    """The consent or help keyword that ``text`` is, if it is exactly one."""
    word = normalise(text)
    polite = _POLITE.match(" ".join(re.sub(r"[,;.!'’]", " ", word).split()))
    if polite and polite.group(1) in OPT_OUT | OPT_IN | HELP:
        word = polite.group(1)
    if word in OPT_OUT:
        return "opt_out"
    if word in OPT_IN:
        return "opt_in"
    if word in HELP:
        return "help"
    return None


@dataclass(frozen=True)
class StaffCommand:
    action: Literal["acknowledged", "resolved", "reply"]
    code: str
    text: str = ""  # a reply's words, as typed


def staff_command(text: str) -> StaffCommand | None:
    """ "OK 4821", "fait 4821", "done #4821", "résolu 4821" from a staff number; "R 4821 <text>" answers the
    case's customer (an empty text is still a relay, refused as empty)."""
    relay = _RELAY.match(text or "")
    if relay:
        return StaffCommand("reply", relay["code"], relay["text"].strip())
    match = _STAFF.match(normalise(text))
    if not match:
        return None
    action = "resolved" if match["verb"] in _RESOLVE_VERBS else "acknowledged"
    return StaffCommand(action, match["code"])
