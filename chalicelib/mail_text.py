"""The words of an e-mail (pure): addresses normalised and masked, HTML turned to text, quoted replies and
signatures cut, whitespace squeezed, subjects read (site code, unsubscribe, auto-reply) and answered.
Public names are used through :mod:`chalicelib.mail`.

Every function here is linear in its input: a 10 MB body costs one pass, never a backtracking regex.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html.parser import HTMLParser

from chalicelib.keywords import keyword

MAX_SUBJECT = 200


class InvalidAddress(ValueError):
    """A text that is not an e-mail address."""


_LOCAL = re.compile(r"^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ANGLED = re.compile(r"<([^<>]*)>\s*$")


def normalise_address(raw: str) -> str:
    """``"Ann <Ann.Smith@Gmail.COM>"`` -> ``"ann.smith@gmail.com"``; raises :class:`InvalidAddress`."""
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if len(text) > 512:
        raise InvalidAddress("address too long")
    angled = _ANGLED.search(text)
    address = (angled.group(1) if angled else text).strip().lower()
    if address.startswith("mailto:"):
        address = address[len("mailto:"):]
    local, at, domain = address.rpartition("@")
    if not at or not local or len(local) > 64 or not _LOCAL.match(local):
        raise InvalidAddress("not an e-mail address")
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidAddress("not an e-mail domain") from exc
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise InvalidAddress("not an e-mail domain")
    address = f"{local}@{domain}"
    if len(address) > 254:
        raise InvalidAddress("address too long")
    return address


def is_address(text: str | None) -> bool:
    """Whether ``text`` is one bare e-mail address (not a phone number, not a name)."""
    if not isinstance(text, str) or "<" in text:
        return False
    try:
        normalise_address(text)
    except InvalidAddress:
        return False
    return True


def mask_address(address: str) -> str:
    """``"ann.smith@gmail.com"`` -> ``"a•••@gmail.com"``: enough to recognise, not to write to."""
    local, at, domain = (address or "").rpartition("@")
    if not at or not local:
        return "•••" if address else ""
    return f"{local[0]}•••@{domain}"


# Elements whose content is never text the customer wrote: code, styling, metadata, the quoted mail
# (``<blockquote>``) and the blocks mail clients wrap a quoted reply or a signature in.
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "blockquote", "svg", "object"})
_SKIP_MARKERS = ("gmail_quote", "gmail_signature", "divrplyfwdmsg", "moz-cite-prefix", "yahoo_quoted",
                 "ms-outlook-mobile-signature", "signature")
_VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr", "area", "base", "col", "embed", "source"})
_BLOCK = frozenset({"p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "section",
                    "article", "header", "footer", "pre", "address", "dl", "dt", "dd", "form", "fieldset"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._breaks = 2  # line breaks the text ends with (none are written before the first word)

    def _block(self, breaks: int) -> None:
        """A block's edge: at least ``breaks`` line breaks, shared with the edges next to it."""
        if breaks > self._breaks:
            self.parts.append("\n" * (breaks - self._breaks))
            self._breaks = breaks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        marks = " ".join((value or "").lower() for name, value in attrs if name in ("class", "id"))
        if tag in _SKIP_TAGS or (tag not in _VOID and any(marker in marks for marker in _SKIP_MARKERS)):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "br":
            self.parts.append("\n")
            self._breaks += 1
        elif tag in _BLOCK or tag == "hr":
            self._block(2 if tag == "p" else 1)
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in _BLOCK:
            self._block(2 if tag == "p" else 1)

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None and (data.strip() or not self._breaks):
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))
            self._breaks = 0


def html_to_text(html: str) -> str:
    """The visible text of an HTML body: scripts, styles and quoted blocks dropped, entities decoded,
    ``<br>`` and ``<p>`` turned to line breaks."""
    parser = _TextOf()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient; whatever it read before a failure is kept
        pass
    return "".join(parser.parts)


# A line that starts the quoted mail: everything from it on is the mail being answered.
_QUOTE_START = re.compile(
    r"^-{2,}\s*(?:original message|message d'origine|message original)\s*-{2,}$", re.IGNORECASE)
_RULE = re.compile(r"^[_-]{10,}$")  # Outlook's rule above its header block
_ON_WROTE = re.compile(r"^(?:on\s.*\swrote|le\s.*\sa\s+écrit)\s*:\s*$", re.IGNORECASE)
_ON_START = re.compile(r"^(?:on|le)\s", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\*?(?:from|de)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\*?(?:sent|date|envoyé|to|à|subject|objet)\s*:", re.IGNORECASE)
# a signature: the "-- " delimiter, or a device's footer alone on its line
_SIGNATURE = re.compile(
    r"^(?:--"
    r"|sent from my \S.*|sent from (?:mail|outlook|yahoo mail|gmail) for \S.*|sent from (?:outlook|gmail)"
    r"|envoyé de mon \S.*|envoyé depuis mon \S.*|envoyé à partir de \S.*|envoyé depuis (?:outlook|gmail).*"
    r"|get outlook for \S.*|obtenir outlook pour \S.*|télécharger outlook pour \S.*)$",
    re.IGNORECASE)
_MAX_SIGNATURE_LINE = 60


def _attribution(lines: list[str], index: int) -> int:
    """How many lines the "On ... wrote:" / "Le ... a écrit :" line at ``index`` takes (0: it is not one)."""
    line = lines[index].strip()
    if len(line) > 400:
        return 0
    if _ON_WROTE.match(line):
        return 1
    if _ON_START.match(line) and index + 1 < len(lines):  # wrapped onto a second line
        nxt = lines[index + 1].strip()
        if len(nxt) <= 200 and _ON_WROTE.match(line + " " + nxt):
            return 2
    return 0


def _header_block(lines: list[str], index: int) -> bool:
    """Whether an Outlook-style quoted mail starts at ``index``: its separator, or "From:" then "Sent:"..."""
    line = lines[index].strip()
    if _QUOTE_START.match(line):
        return True
    following = [lines[i].strip() for i in range(index + 1, min(index + 4, len(lines)))]
    if _RULE.match(line):
        return any(_HEADER_FROM.match(other) for other in following[:2])
    if _HEADER_FROM.match(line):
        return any(_HEADER_NEXT.match(other) for other in following)
    return False


def unflow(text: str, delete_space: bool = False) -> str:
    """RFC 3676 ``format=flowed`` text with its soft line breaks (a line ending in a space) joined;
    the signature delimiter "-- " and quoted lines are never joined."""
    out: list[str] = []
    joining = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if joining and not line.startswith(">"):
            out[-1] += line
        else:
            out.append(line)
        joining = line.endswith(" ") and line != "-- " and not line.startswith(">")
        if joining and delete_space:
            out[-1] = out[-1][:-1]
    return "\n".join(out)


def strip_reply(text: str) -> str:
    """``text`` without the quoted mail it answers (from the attribution line or Outlook's header block
    on), lines starting with ``>``, and a signature. An answer written below the quote (nothing above
    the attribution) is kept."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        attribution = _attribution(lines, index)
        if attribution and any(k.strip() for k in kept):
            break
        if attribution:  # bottom-posted: skip the attribution, the quoted lines go below
            index += attribution
            continue
        if _header_block(lines, index):
            break
        if len(stripped) <= _MAX_SIGNATURE_LINE and _SIGNATURE.match(stripped):
            break
        if not stripped.startswith(">"):
            kept.append(line)
        index += 1
    return "\n".join(kept)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")  # and lone surrogates (UTF-7 can make them)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def squeeze(text: str) -> str:
    """Line breaks kept (one blank line at most), runs of spaces made one, invisible and control characters
    (and lone surrogates, which no store can encode) removed, each line and the whole trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


PREFIX = re.compile(r"^\s*(?:(?:re|ré|fwd?|tr|aw|wg|sv|réf)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
AUTO_SUBJECT = re.compile(
    r"^(?:automatic reply|auto(?:matic)?[- ]?reply|auto-response|autoreply|auto:|out of (?:the )?office"
    r"|réponse automatique|répondeur|absence du bureau|absent(?:e)? du bureau|message d'absence"
    r"|abwesenheitsnotiz|respuesta automática)",
    re.IGNORECASE)
BOUNCE_SUBJECT = re.compile(
    r"^(?:undeliverable|undelivered mail|delivery status notification|mail delivery (?:failed|failure)"
    r"|returned mail|failure notice|non remis|échec de la remise)",
    re.IGNORECASE)


def _first_line(text: str) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def leading_code(subject: str, text: str, codes: Collection[str]) -> str | None:
    """The site code that leads the subject (after Re:/Fwd:) or else the mail's first line, as configured."""
    by_upper = {c.upper(): c for c in codes if c}
    for line in (PREFIX.sub("", subject or ""), _first_line(text)):
        match = re.match(r"\s*[#\[(]?\s*(\w+)", line)
        if match and match.group(1).upper() in by_upper:
            return by_upper[match.group(1).upper()]
    return None


_UNSUBSCRIBE = re.compile(
    r"^(?:please |merci de |pouvez-vous |pourriez-vous )?(?:unsubscribe(?: me)?(?: please)?|opt me out"
    r"|(?:se|me|nous) (?:désabonner|désinscrire)|désabonnez[- ]moi|désinscrivez[- ]moi)"
    r"(?: svp| s'il vous plaît| please| merci)?[\s.!]*$",
    re.IGNORECASE)


def wants_unsubscribe(subject: str, text: str) -> bool:
    """Whether the whole mail asks to unsubscribe: "STOP", "unsubscribe", "désabonner", "désinscrire"... is all
    its text (quotes and signature stripped) and its subject is that too, empty, or a reply's ("Re: ..."), or
    the subject is that and there is no text. "Cancel" leading a complaint is feedback, never an opt-out."""
    words = " ".join((text or "").split())
    title = PREFIX.sub("", subject or "").strip()
    if not words:
        return _opts_out(title)
    return _opts_out(words) and (not title or bool(PREFIX.match(subject or "")) or _opts_out(title))


def _opts_out(line: str) -> bool:
    return bool(line) and (keyword(line) == "opt_out" or bool(_UNSUBSCRIBE.match(line)))


def reply_subject(subject: str, language: str) -> str:
    """``Re: <subject>`` once, never ``Re: Re:``; "Re: Your feedback" / "Re: Votre avis" for no subject."""
    plain = " ".join((subject or "").split())
    plain = re.sub(r"^(?:(?:re|ré|aw|sv)\s*(?:\[\d+\])?\s*:\s*)+", "", plain, flags=re.IGNORECASE)[:MAX_SUBJECT]
    if not plain:
        plain = "Votre avis" if (language or "").lower().startswith("fr") else "Your feedback"
    return f"Re: {plain}"
