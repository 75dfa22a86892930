"""Explainable, rule-based classification of a customer's SMS.

Pure Python, no AWS. The rules come from ``rules.toml``: groups of phrases,
each adding evidence for a topic, a sentiment, an urgency reason or a cue
(question, suggestion, negation). Phrases are normalised like messages are
(lower case, no accents, SMS spellings expanded) and compiled into hash
tables, so classifying costs a few dictionary look-ups per word whatever the
size of the rule set.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from chalicelib.configuration import Config, LexiconGroup, Site

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
_CONTRACTION = re.compile(r"\b(can|won)'t\b|n't\b")  # can't -> can not, won't -> will not, isn't -> is not
_EXPANDED = {"can": "can not", "won": "will not", None: " not"}
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_TOKEN = re.compile(rf"[a-z0-9]+|[!?.;,£€$]|[{_EMOJI}]")
_NUMBER_UNIT = re.compile(r"^(\d+)([a-z]+)$")
_RUN = re.compile(r"([a-z])\1{2,}")
_BREAKERS = frozenset("!?.;,")
_MAX_CACHE = 50_000
_UNSEEN = object()
_FRENCH_LETTERS = frozenset("éèêàùçâîôûëïÉÈÊÀÇ")
_AFTER_NEGATORS = frozenset({"plus", "jamais", "pas"})  # colloquial French: "j'y reviendrai plus"


def _strip_accents_slow(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Latin letters with diacritics (U+00C0-U+024F), stripped once here: then most texts need
# one C-level translate instead of a decomposition and a Python loop over every character.
_LATIN = {cp: _strip_accents_slow(chr(cp)) for cp in range(0xC0, 0x250)}
_LATIN = {cp: stripped for cp, stripped in _LATIN.items() if stripped != chr(cp)}


def strip_accents(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks: ``"Arrêt"`` -> ``"Arret"``."""
    if text.isascii():
        return text
    text = text.translate(_LATIN)
    if text.isascii() or (unicodedata.is_normalized("NFKD", text)
                          and not any(unicodedata.combining(c) for c in text if c > "\x7f")):
        return text
    return _strip_accents_slow(text)


# one C-level pass for what most non-ASCII texts hold: curly apostrophes, accented Latin
# letters, the emoji variation selector
_FOLD = {**_LATIN, **{ord(k): v for k, v in {"\u2019": "'", "\u2018": "'", "\u00b4": "'", "\u02bc": "'"}.items()},
         0xFE0F: None}
_STABLE: dict[str, bool] = {}  # character -> unchanged by NFKD and not a combining mark


def _stable(char: str) -> bool:
    known = _STABLE.get(char)
    if known is None:
        known = _STABLE[char] = (unicodedata.normalize("NFKD", char) == char and not unicodedata.combining(char))
    return known


def _fold(text: str) -> str:
    """Apostrophes made straight, accents stripped (as NFKD then dropping combining marks)."""
    text = text.translate(_FOLD)
    if text.isascii() or all(_stable(c) for c in set(text) if c > "\x7f"):
        return text
    return strip_accents(text.translate(_APOSTROPHES)).replace("\ufe0f", "")


def _raw_tokens(text: str) -> list[str]:
    text = text.casefold()
    if not text.isascii():
        text = _fold(text)
    if "`" in text:
        text = text.replace("`", "'")
    if "'" in text:
        text = _CONTRACTION.sub(lambda m: _EXPANDED[m.group(1)], text)
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Classification:
    site: str | None
    topic: str
    nature: str
    urgency: str
    language: str
    rules: list[str]
    urgency_reason: str | None = None

    def as_dict(self) -> dict:
        return {
            "site": self.site, "topic": self.topic, "nature": self.nature,
            "urgency": self.urgency, "language": self.language, "rules": list(self.rules),
        }


@dataclass(slots=True)
class _Evidence:
    topics: dict[str, float] = field(default_factory=dict)
    positive: float = 0.0
    negative: float = 0.0
    churn: float = 0.0
    safety: bool = False
    suggestion: bool = False
    question: bool = False
    asks: bool = False
    problems: int = 0
    en: int = 0
    fr: int = 0
    fired: list[str] = field(default_factory=list)


class Classifier:
    """Compiles the configured rules once; ``classify`` is then pure and fast."""

    def __init__(self, config: Config):
        rules = config.rules
        self._config = config
        self._site_by_code = {code: site for site in config.sites for code in site.codes}
        self._site_by_number = {number: site for site in config.sites for number in site.numbers}
        self._groups: list[LexiconGroup] = list(rules.lexicon)
        self._window = rules.negation_window
        self._churn_threshold = rules.churn_threshold
        self._priority = {t: i for i, t in enumerate(rules.priority)}
        self._default_topic = rules.default_topic
        self._aliases: dict[str, list[str]] = {}
        for key, value in rules.aliases.items():
            key_tokens = _raw_tokens(key)
            if len(key_tokens) != 1:
                raise ValueError(f"alias {key!r} must be a single word")
            self._aliases[key_tokens[0]] = _raw_tokens(value)
        self._exact: dict[tuple[str, ...], list[int]] = {}
        self._stems: dict[str, list[int]] = {}
        self._starters: set[str] = set()
        self._pairs: set[tuple[str, ...]] = set()  # the first two words of every longer phrase
        self._lengths: dict[str, tuple[int, ...]] = {}  # first word -> phrase lengths, longest first
        self._longest = 1
        for index, group in enumerate(self._groups):
            for phrase in group.phrases:
                self._add_phrase(index, group, phrase)
        self._en = frozenset(self._words(rules.language_words.en))
        self._fr = frozenset(self._words(rules.language_words.fr))
        self._vocabulary = (
            {t for key in self._exact for t in key} | set(self._aliases) | self._en | self._fr
        )
        self._negators = frozenset(
            t for g in self._groups if g.cue == "negator" for p in g.phrases for t in _raw_tokens(p)
        )
        self._token_cache: dict[str, tuple[str, ...]] = {}
        self._single_cache: dict[str, list[int] | None] = {}

    # -- compilation -----------------------------------------------------------------
    def _words(self, words: list[str]) -> list[str]:
        return [t for w in words for t in self._expand(_raw_tokens(w))]

    def _expand(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        for token in tokens:
            out.extend(self._aliases.get(token, (token,)))
        return out

    def _add_phrase(self, index: int, group: LexiconGroup, phrase: str) -> None:
        stem = phrase.endswith("*")
        tokens = self._expand(_raw_tokens(phrase.rstrip("*")))
        if not tokens:
            raise ValueError(f"lexicon group {group.name!r}: phrase {phrase!r} has no words")
        if stem:
            if len(tokens) != 1 or len(tokens[0]) < 3:
                raise ValueError(
                    f"lexicon group {group.name!r}: stem {phrase!r} must be one word of 3+ letters"
                )
            indices = self._stems.setdefault(tokens[0], [])
        else:
            key = tuple(tokens)
            indices = self._exact.setdefault(key, [])
            if len(key) > 1:
                self._starters.add(key[0])
                self._longest = max(self._longest, len(key))
                self._pairs.add(key[:2])
                self._lengths[key[0]] = tuple(sorted({*self._lengths.get(key[0], ()), len(key)}, reverse=True))
        if index not in indices:
            indices.append(index)

    # -- normalisation ---------------------------------------------------------------
    def _normal_token(self, raw: str) -> tuple[str, ...]:
        cached = self._token_cache.get(raw)
        if cached is not None:
            return cached
        token = raw
        if token not in self._aliases and _RUN.search(token):
            two = _RUN.sub(r"\1\1", token)
            token = two if two in self._vocabulary or two in self._aliases else _RUN.sub(r"\1", token)
        if (token not in self._vocabulary and len(token) > 3 and token[-1] in "sx"
                and token[:-1] in self._vocabulary):
            token = token[:-1]
        if token in self._aliases:
            result = tuple(self._aliases[token])
        else:
            unit = _NUMBER_UNIT.match(token)
            if unit and unit.group(2) in self._vocabulary | set(self._aliases):
                result = (unit.group(1), *self._aliases.get(unit.group(2), (unit.group(2),)))
            else:
                result = (token,)
        if len(self._token_cache) < _MAX_CACHE:
            self._token_cache[raw] = result
        return result

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        cache = self._token_cache
        for raw in _raw_tokens(text):
            out.extend(cache.get(raw) or self._normal_token(raw))
        return out

    def _single_match(self, token: str) -> list[int] | None:
        """The groups one word matches on its own: a one-word phrase, else the longest stem."""
        if token in self._single_cache:
            return self._single_cache[token]
        found = self._exact.get((token,))
        if not found:
            for end in range(len(token), 2, -1):
                found = self._stems.get(token[:end])
                if found:
                    break
        found = found or None
        if len(self._single_cache) < _MAX_CACHE:
            self._single_cache[token] = found
        return found

    # -- classification --------------------------------------------------------------
    def site_for(self, text: str, to_number: str | None) -> tuple[Site | None, str, str]:
        """The site, how it was found, and the text without a leading site code."""
        stripped = text.strip()
        first, _, rest = stripped.partition(" ")
        if not rest:
            first, rest = stripped, ""
        code = first.strip(":,.;!-#").upper()
        site = self._site_by_code.get(code) if code else None
        if site is not None:
            return site, f"site: code {code}", rest
        site = self._site_by_number.get(to_number) if to_number else None
        if site is not None:
            return site, f"site: number {to_number}", stripped
        return None, "site: unknown", stripped

    def classify(self, text: str, to_number: str | None = None) -> Classification:
        site, site_rule, body = self.site_for(text, to_number)
        tokens = self.tokens(body)
        ev = self._evidence(tokens)
        rules = [site_rule, *ev.fired]

        topic = self._default_topic
        if ev.topics:
            topic = max(ev.topics, key=lambda t: (ev.topics[t], -self._priority[t]))

        reason = None
        if ev.safety:
            reason = "safety"
        elif ev.churn >= self._churn_threshold:
            reason = "churn"
        urgency = "high" if reason else "normal"

        if reason:
            nature = "complaint"
        elif ev.asks and ev.question and ev.negative <= 1 and not ev.suggestion:
            nature = "question"
        elif ev.negative > 0:
            nature = "complaint"
        elif ev.suggestion:
            nature = "suggestion"
        elif ev.question or ev.asks:
            nature = "question"
        elif ev.positive > 0:
            nature = "compliment"
        else:
            nature = "complaint"

        language = self._language(tokens, body, site, ev)
        rules.append(f"nature: {nature} (positive {ev.positive:g}, negative {ev.negative:g})")
        if reason:
            rules.append(f"urgency: high ({reason})")
        rules.append(f"language: {language}")
        return Classification(
            site=site.id if site else None, topic=topic, nature=nature, urgency=urgency,
            language=language, rules=rules, urgency_reason=reason,
        )

    def _evidence(self, tokens: list[str]) -> _Evidence:
        ev = _Evidence()
        groups = self._groups
        starters, pairs, lengths, exact = self._starters, self._pairs, self._lengths, self._exact
        single_cache, single = self._single_cache, self._single_match
        window, negators = self._window, self._negators
        negator_at = -100
        breaker_at = -1
        pending_problem: int | None = None  # position of a negator awaiting a topic word
        n = len(tokens)
        i = 0
        position = 0
        while i < n:
            token = tokens[i]
            matched: list[int] | None = None
            length = 1
            if token in starters and i + 1 < n and (token, tokens[i + 1]) in pairs:
                for size in lengths[token]:
                    if size <= n - i:
                        matched = exact.get(tuple(tokens[i:i + size]))
                        if matched:
                            length = size
                            break
            if not matched:
                matched = single_cache.get(token, _UNSEEN)
                if matched is _UNSEEN:
                    matched = single(token)
            if token in _BREAKERS:
                breaker_at = position
                if token == "?":
                    ev.question = True
            if matched:
                if length == 1:
                    phrase = token
                    negated = negator_at > breaker_at and position - negator_at <= window
                else:
                    words = tokens[i:i + length]
                    phrase = " ".join(words)
                    negated = (negator_at > breaker_at and position - negator_at <= window
                               and not any(w in negators for w in words))
                at_start = position == 0 or breaker_at == position - 1
                negated_near = negated or (
                    negator_at > breaker_at and position - negator_at <= window + 2
                ) or (i + length < n and tokens[i + length] in _AFTER_NEGATORS)
                for index in matched:
                    group = groups[index]
                    self._apply(ev, group, phrase, negated_near if group.negated_only else negated,
                                at_start, position)
                    if group.cue == "negator":
                        negator_at = position
                        pending_problem = position
                    elif group.cue == "breaker":
                        breaker_at = position
                    if (group.topic and not group.sentiment and pending_problem is not None
                            and position - pending_problem <= 2 and pending_problem > breaker_at):
                        ev.negative += 1
                        ev.problems += 1
                        ev.fired.append(f"problem: {tokens[pending_problem]} ... {phrase}")
                        pending_problem = None
            i += length
            position += 1
        return ev

    @staticmethod
    def _apply(ev: _Evidence, group: LexiconGroup, phrase: str, negated: bool,
               at_start: bool, position: int) -> None:
        fired = False
        if group.topic:
            ev.topics[group.topic] = ev.topics.get(group.topic, 0.0) + group.weight
            fired = True
        if group.sentiment and not group.negated_only:
            polarity = -group.sentiment if negated else group.sentiment
            if polarity > 0:
                ev.positive += 1
            else:
                ev.negative += 1
            fired = True
        if group.urgency and (negated or not group.negated_only):
            if group.urgency == "safety":
                ev.safety = True
            else:
                ev.churn += group.weight
            fired = True
        if group.cue == "suggestion":
            ev.suggestion = True
            fired = True
        elif group.cue == "question" and at_start:
            ev.asks = True
            fired = True
        elif group.cue == "ask":
            ev.asks = True
            ev.question = True
            fired = True
        elif group.cue == "problem":
            ev.negative += group.weight
            fired = True
        if group.language == "en":
            ev.en += 1
        elif group.language == "fr":
            ev.fr += 1
        if fired:
            ev.fired.append(f"{group.name}: {phrase}{' (negated)' if negated else ''}")

    def _language(self, tokens: list[str], body: str, site: Site | None, ev: _Evidence) -> str:
        en = ev.en + sum(map(self._en.__contains__, tokens))
        fr = ev.fr + sum(map(self._fr.__contains__, tokens))
        if not body.isascii():
            fr += min(2, len([c for c in body if c in _FRENCH_LETTERS]))
        if fr > en:
            return "fr"
        if en > fr:
            return "en"
        if site is not None:
            return site.language
        return self._config.deployment.default_language
