"""Explainable, rule-based classification of a customer's SMS.

Pure Python, no AWS. The rules come from ``rules.toml``: groups of phrases,
each adding evidence for a topic, a sentiment, an urgency reason or a cue
(question, suggestion, negation). Phrases are normalised like messages are
(lower case, no accents, SMS spellings expanded) and compiled into hash
tables, so classifying costs a few dictionary look-ups per word whatever the
size of the rule set.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import compress, repeat

from chalicelib import learned
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
_FRENCH_LETTERS = frozenset("éèêàùçâîôûëïÉÈÊÀÇ")
_QUESTION_WORDS = 3  # a "?" after this many words or more asks something; "ok?" does not
_AFTER_NEGATORS = frozenset({"plus", "jamais", "pas"})  # colloquial French: "j'y reviendrai plus"
_NEGATED = " (negated)"
_SHIPPED = object()  # the model shipped in the package, loaded on the first message classified
# How the learned model and the rules share the work (README, "The learned model"); chosen on the cross-corpus table
URGENT_PROBABILITY = 0.45  # the model raises a normal message to high when P(high) reaches this (never lowers one)
URGENT_NATURES = ("complaint", "unclear", "question")  # ... if the message is one of these (it becomes a complaint)
SAFETY_URGENT = 0.5  # a complaint whose topic is safety, from the model at this, is urgent (a danger no rule read)
DOUBT_PROBABILITY = 0.9  # doubtful safety words alone: not urgent when the model says normal from this
DOUBT_PRAISE = 0.8  # ... or a compliment from this ("handled a drunk passenger calmly")
DOUBTFUL_CERTAIN = 2  # this many distinct doubtful safety words (not negated) are certain: "shoved me, I am hurt"
SURE_PROBABILITY = 0.3  # no topic rule fired, in English or French: the model's topic from this
TOPIC_OVERRIDE = 0.3  # a topic rule fired (no safety phrase): the model's other topic wins from this
SAFETY_TOPIC_OVERRIDE = 0.6  # ... over doubtful safety words' topic from this (still urgent); never a certain one's
OTHER_OVERRIDE = 0.6  # ... to the topic "other" (no subject) from this
RULE_SHARE = 1.0  # several topic rules fired: each topic's share of their weight, times this, plus the model's
NATURE_PROBABILITY = 0.5  # a topic word alone: the model's nature from this, else a complaint
NATURE_OVERRIDE = 0.8  # the rules read a nature (not urgent, not the staff's conduct): the model's wins from this
NATURE_LONG = 0.6  # ... and from this in a message of LONG_WORDS words or more
LONG_WORDS = 8
NATURE_MIXED = 0.5  # ... and from this when the rules read both praise and a problem
UNCLEAR_WORDS = 4  # no rule fired in a message of this many words of letters: not unclear by the test ...
UNCLEAR_PROBABILITY = 0.6  # ... the model's nature from this
LONG_UNREAD = 6  # words of another language: never unclear from this many (the model's likeliest other nature)
OTHER_PROBABILITY = 0.8  # the model's "another language" over the rules' English or French (3 words or more)


_STRAIGHT = (("\u2019", "'"), ("\u2018", "'"), ("\u00b4", "'"), ("\u02bc", "'"))
# Latin letters NFKD does not take apart: Polish ł, Turkish dotless ı, Danish ø, Croatian đ, the ligatures æ and œ
# (without this "zgubiłem" read as "zgubi em", "açık" as "ac k" and "cœur" as "c ur")
_LETTERS = str.maketrans({"ł": "l", "Ł": "l", "ı": "i", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "æ": "ae", "Æ": "ae",
                          "œ": "oe", "Œ": "oe"})


@functools.cache
def _marks() -> frozenset[str]:
    """Every character with a combining class (accents once decomposed), listed on first need
    (about 20 ms, kept off the cold start): dropping them then costs a set intersection with the
    text and a C-level replace per mark present."""
    return frozenset(chr(cp) for cp in range(0x300, 0x1F000) if unicodedata.combining(chr(cp)))


def _drop_marks(text: str) -> str:
    if text.isascii():
        return text
    for mark in _marks().intersection(text):
        text = text.replace(mark, "")
    return text


def _fold(text: str) -> str:
    """Apostrophes made straight, accents stripped (NFKD then no combining marks), no emoji variation selector."""
    for curly, straight in _STRAIGHT:
        if curly in text:
            text = text.replace(curly, straight)
    text = _drop_marks(unicodedata.normalize("NFKD", text)).translate(_LETTERS)
    return text.replace("\ufe0f", "") if "\ufe0f" in text else text


def _foreign_letters(text: str) -> int:
    """How many letters of ``text`` are not of the Latin alphabet (Chinese, Arabic, Cyrillic, Greek...)."""
    return sum(1 for c in text if ord(c) > 0x24F and c.isalpha() and not 0x1E00 <= ord(c) <= 0x1EFF)


def _foreign_words(text: str) -> int:
    """How many words of another alphabet ``text`` has: its pieces between spaces, or for a script written
    without spaces (Chinese, Japanese, Thai), one word per two letters."""
    count = 0
    for piece in text.split():
        letters = _foreign_letters(piece)
        if letters:
            unspaced = sum(1 for c in piece if 0x3040 <= ord(c) <= 0x9FFF or 0x0E00 <= ord(c) <= 0x0E7F)
            count += max(1, unspaced // 2) if unspaced else 1
    return count


def _raw_tokens(text: str) -> list[str]:
    text = text.casefold()
    if not text.isascii():
        text = _fold(text)
    if "`" in text:
        text = text.replace("`", "'")
    if "n't" in text:
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
    about_staff: bool = False  # a complaint about the staff on duty: never routed to them

    def as_dict(self) -> dict:
        return {
            "site": self.site, "topic": self.topic, "nature": self.nature,
            "urgency": self.urgency, "language": self.language, "rules": list(self.rules),
            "about_staff": self.about_staff,
        }


@dataclass(frozen=True, slots=True)
class _Rule:
    """One lexicon group, flattened for the classifying loop."""

    name: str
    topic: str | None
    weight: float
    sentiment: int  # 0 when the group's sentiment never counts (negated_only groups)
    urgency: str | None
    cue: str | None
    language: str | None
    negated_only: bool
    topic_only: bool  # a topic without sentiment: a negator just before it reads as a problem
    conduct: bool  # a sentiment about the staff (the staff topic): negative, it is about their conduct
    while_driving: bool  # counts only in a message naming someone driving
    doubtful: bool  # safety words the model may judge not urgent

    @classmethod
    def of(cls, group: LexiconGroup, staff_topic: str | None = None) -> _Rule:
        return cls(group.name, group.topic, group.weight, 0 if group.negated_only else group.sentiment,
                   group.urgency, group.cue, group.language, group.negated_only,
                   bool(group.topic and not group.sentiment),
                   bool(staff_topic and group.topic == staff_topic and group.sentiment), group.while_driving,
                   group.doubtful)


@dataclass(frozen=True, slots=True)
class _Start:
    """A word that begins longer phrases: the words that may follow it, and what it matches alone."""

    rules: tuple[_Rule, ...] | bool | None
    nexts: frozenset[str]
    lengths: tuple[int, ...]  # of the phrases it begins, longest first


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
    en: int = 0
    fr: int = 0
    fired: list[str] = field(default_factory=list)
    on_duty: list[str] = field(default_factory=list)  # phrases naming the staff on duty or what they do, or negated
    conduct: list[str] = field(default_factory=list)  # problems with the staff's conduct ("rude", "not friendly")
    doubtful: list[str] = field(default_factory=list)  # safety words often meant otherwise, or negated
    doubtful_topics: dict[str, float] = field(default_factory=dict)  # what they added to their topics


@functools.cache
def _shipped_phrases() -> frozenset[tuple[str, str]]:
    """(group, phrase) of the package's own ``rules.toml``, the rules the shipped model was trained beside."""
    import tomllib
    from pathlib import Path

    try:
        data = tomllib.loads((Path(__file__).parent / "config" / "rules.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return frozenset()
    return frozenset((g.get("name"), p) for g in data.get("lexicon", []) for p in g.get("phrases", []))


class Classifier:
    """Compiles the configured rules once; ``classify`` is then pure and fast.

    The work per message is a few C-level passes (case folding, one regular expression for
    the words, one dictionary look-up per word through ``map``), then Python code only for
    the words that matter: those of a rule, punctuation, and the first words of longer
    phrases. What each distinct word normalises to and which rules it matches is worked out
    once and kept (up to ``cache_size`` words), so the cost does not grow with the rule set.
    """

    def __init__(self, config: Config, cache_size: int = _MAX_CACHE, model: object = _SHIPPED):
        rules = config.rules
        self._model = model  # a learned.Model, None for the rules alone, or _SHIPPED until first needed
        self._config = config
        self._cache_size = cache_size
        self._site_by_code = {code: site for site in config.sites for code in site.codes}
        self._site_by_number = {number: site for site in config.sites  # numbers, and addresses of e-mail
                                for number in [*site.numbers, *(a.lower() for a in site.email_addresses)]}
        self._groups: list[LexiconGroup] = list(rules.lexicon)
        self._rules = [_Rule.of(g, rules.staff_topic) for g in self._groups]
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
        self._nexts: dict[str, set[str]] = {}  # first word of a longer phrase -> its possible second words
        self._lengths: dict[str, tuple[int, ...]] = {}  # first word -> phrase lengths, longest first
        for index, group in enumerate(self._groups):
            for phrase in group.phrases:
                self._add_phrase(index, group, phrase)
        self._phrases = {key: tuple(self._rules[i] for i in indices) for key, indices in self._exact.items()}
        # "group: phrase" of the phrases an operator added since the model was trained beside the shipped rules:
        # where one fires, the rules' topic and nature are not the model's to overrule
        shipped = _shipped_phrases()
        self._operator = frozenset(
            f"{g.name}: {' '.join(self._expand(_raw_tokens(p.rstrip('*'))))}"
            for g in self._groups for p in g.phrases if (g.name, p) not in shipped and not p.endswith("*"))
        self._operator_stems = tuple(  # a stem fires with the whole word: "wobbl*" as "wobbly"
            f"{g.name}: {self._expand(_raw_tokens(p.rstrip('*')))[0]}"
            for g in self._groups for p in g.phrases if (g.name, p) not in shipped and p.endswith("*"))
        self._en = frozenset(self._words(rules.language_words.en))
        self._fr = frozenset(self._words(rules.language_words.fr))
        # word -> +1 if English only, -1 if French only: the sum over a message leans one way or the other
        self._lean = {w: (w in self._en) - (w in self._fr) for w in self._en ^ self._fr}
        # word -> the other language it belongs to (words shared with English or French do not count)
        self._other_of: dict[str, str] = {}
        for name, words in rules.language_words.others.items():
            for word in self._words(words):
                if word not in self._en and word not in self._fr:
                    self._other_of.setdefault(word, name)
        self._other_words = frozenset(self._other_of)
        self._compile_glosses(rules.glosses)
        self._on_duty_words = frozenset(  # the one-word phrases naming the staff on duty: "driver", "cashier"
            p for g in self._groups if g.cue == "on_duty" for p in g.phrases if p.isalpha())
        self._vocabulary = (
            {t for key in self._exact for t in key} | set(self._aliases) | self._en | self._fr | self._other_words
        )
        self._negators = frozenset(
            t for g in self._groups if g.cue == "negator" for p in g.phrases for t in _raw_tokens(p)
        )
        # raw word -> its normal words joined by spaces; every normal word of it has an entry
        self._normal: dict[str, str] = {}
        self._expanding: set[str] = set()  # raw words kept in _normal that are not exactly one normal word
        # normal word -> the rules it matches on its own, True for bare punctuation, None if nothing;
        # a _Start if longer phrases begin with it
        self._entries: dict[str, tuple[_Rule, ...] | bool | _Start | None] = {}

    # -- compilation -----------------------------------------------------------------
    def _compile_glosses(self, glosses: dict[str, list[str]]) -> None:
        """rules.toml's ``[glosses]``: a word of the Latin alphabet by its normal form (a stem ending in "*"),
        a word of another alphabet by its first letter, to be looked for inside the text."""
        self._gloss_words: dict[str, tuple[str, ...]] = {}
        self._gloss_stems: dict[str, tuple[str, ...]] = {}
        self._gloss_inside: dict[str, list[tuple[str, str]]] = {}  # first letter -> (folded word, "=english")
        self._glossed: dict[str, tuple[str, ...]] = {}  # normal word -> its glosses (cache)
        for english, words in glosses.items():
            if _raw_tokens(english) != [english]:
                raise ValueError(f"gloss {english!r}: must be one English word in lower case")
            for word in words:
                folded = _fold(word.casefold()).strip()
                if folded and _foreign_letters(folded):
                    self._gloss_inside.setdefault(folded[0], []).append((folded, "=" + english))
                    continue
                tokens = self._expand(_raw_tokens(word.rstrip("*")))
                if len(tokens) != 1 or (word.endswith("*") and len(tokens[0]) < 3):
                    raise ValueError(f"gloss {english!r}: {word!r} must be one word (a stem: 3+ letters then *)")
                table = self._gloss_stems if word.endswith("*") else self._gloss_words
                table[tokens[0]] = (*table.get(tokens[0], ()), "=" + english)

    def _glosses(self, tokens: list[str], body: str) -> list[str]:
        """The glosses of a message's words (``=english``, each once, in order of appearance)."""
        out: list[str] = []
        cache, words, stems = self._glossed, self._gloss_words, self._gloss_stems
        for token in tokens:
            found = cache.get(token)
            if found is None:
                found = words.get(token, ())
                if not found and len(token) > 3 and stems:
                    found = next((stems[token[:end]] for end in range(len(token), 2, -1) if token[:end] in stems), ())
                if len(cache) < self._cache_size:
                    cache[token] = found
            out.extend(found)
        if self._gloss_inside and not body.isascii():
            folded = _fold(body.casefold())
            found = sorted((at, gloss) for first in self._gloss_inside.keys() & set(folded)  # in order of the text
                           for word, gloss in self._gloss_inside[first] if (at := folded.find(word)) >= 0)
            out.extend(gloss for _, gloss in found)
        return list(dict.fromkeys(out)) if out else out

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
                self._nexts.setdefault(key[0], set()).add(key[1])
                self._lengths[key[0]] = tuple(sorted({*self._lengths.get(key[0], ()), len(key)}, reverse=True))
        if index not in indices:
            indices.append(index)

    # -- normalisation ---------------------------------------------------------------
    def _normal_token(self, raw: str) -> tuple[str, ...]:
        token = raw
        if token not in self._aliases and _RUN.search(token):
            two = _RUN.sub(r"\1\1", token)
            token = two if two in self._vocabulary or two in self._aliases else _RUN.sub(r"\1", token)
        if (token not in self._vocabulary and len(token) > 3 and token[-1] in "sx"
                and token[:-1] in self._vocabulary):
            token = token[:-1]
        if token in self._aliases:
            return tuple(self._aliases[token])
        unit = _NUMBER_UNIT.match(token)
        if unit and unit.group(2) in self._vocabulary | set(self._aliases):
            return (unit.group(1), *self._aliases.get(unit.group(2), (unit.group(2),)))
        return (token,)

    def _entry(self, token: str) -> tuple[_Rule, ...] | bool | _Start | None:
        """The rules one word matches on its own (a one-word phrase, else the longest stem)."""
        if token in self._entries:
            return self._entries[token]
        found = self._exact.get((token,))
        if not found:
            for end in range(len(token), 2, -1):
                found = self._stems.get(token[:end])
                if found:
                    break
        entry: tuple[_Rule, ...] | bool | _Start | None = (
            tuple(self._rules[i] for i in found) if found else (token in _BREAKERS or None))
        if token in self._nexts:
            entry = _Start(entry, frozenset(self._nexts[token]), self._lengths[token])
        if len(self._entries) < self._cache_size:
            self._entries[token] = entry
        return entry

    def _normalise(self, raws: list[str]) -> tuple[list[str], bool]:
        """The normal words of ``raws``, and whether each of them now has a kept entry."""
        words: list[str] = []
        kept = True
        for raw in raws:
            joined = self._normal.get(raw)
            if joined is None:
                normal = self._normal_token(raw)
                for word in normal:
                    self._entry(word)
                joined = " ".join(normal)
                if len(self._normal) < self._cache_size and all(w in self._entries for w in normal):
                    self._normal[raw] = joined
                    if len(normal) != 1:
                        self._expanding.add(raw)
                else:
                    kept = False
            words.append(joined)
        return " ".join(words).split(), kept

    def _words_of(self, body: str) -> tuple[list[str], Callable]:
        """The normal words of ``body``, and how to look up a word's entry."""
        raws = _raw_tokens(body)
        try:  # the usual case, every word seen before: all in C
            if self._expanding.isdisjoint(raws):
                return list(map(self._normal.__getitem__, raws)), self._entries.get
            return " ".join(map(self._normal.__getitem__, raws)).split(), self._entries.get
        except KeyError:
            words, kept = self._normalise(raws)
            return words, (self._entries.get if kept else self._entry)

    def tokens(self, text: str) -> list[str]:
        """The normal words of ``text``: lower case, no accents, SMS spellings expanded."""
        return self._words_of(text)[0]

    def knows(self, words: list[str]) -> bool:
        """Whether normal ``words`` are already a phrase of the rules (one word: a phrase or a stem's match)."""
        if tuple(words) in self._exact:
            return True
        return len(words) == 1 and any(words[0][:end] in self._stems for end in range(len(words[0]), 2, -1))

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
        tokens, lookup = self._words_of(body)
        ev = self._evidence(tokens, lookup)
        rules = [site_rule, *ev.fired]
        glosses = self._glosses(tokens, body)
        opinions = self._opinions(self._model_words(tokens, ev, glosses))

        topics = ev.topics
        doubt = None  # safety words the model judges not urgent: they neither raise it nor name its topic
        if (ev.doubtful and not ev.safety and opinions is not None
                and len({p for p in ev.doubtful if not p.endswith(_NEGATED)}) < DOUBTFUL_CERTAIN):
            said, praise = opinions["urgency"], opinions["nature"]
            if said.label == "normal" and said.probability >= DOUBT_PROBABILITY:
                doubt = (f"model:urgency=normal ({said.probability:.2f}; not urgent despite the doubtful safety "
                         f"words {', '.join(ev.doubtful)})")
            elif praise.label == "compliment" and praise.probability >= DOUBT_PRAISE:
                doubt = (f"model:nature=compliment ({praise.probability:.2f}; not urgent despite the doubtful "
                         f"safety words {', '.join(ev.doubtful)})")
            if doubt:
                topics = {t: w - ev.doubtful_topics.get(t, 0.0) for t, w in topics.items()}
                topics = {t: w for t, w in topics.items() if w > 1e-9}
        if len(topics) > 1:
            priority = self._priority
            topic = max(topics, key=lambda t: (topics[t], -priority[t]))
        else:
            topic = next(iter(topics), self._default_topic)

        reason = None
        if ev.safety or (ev.doubtful and doubt is None):
            reason = "safety"
        elif ev.churn >= self._churn_threshold:
            reason = "churn"
        urgency = "high" if reason else "normal"

        language, language_rule = self._language(tokens, body, site, ev)
        decided: set[str] = set()  # what the model decided, for the explanation
        if opinions is not None and language != "other" and len(tokens) >= _QUESTION_WORDS:
            said = opinions["language"]
            if said.label == "other" and said.probability >= OTHER_PROBABILITY:
                language, language_rule = "other", said.explain("language")
        # a question mark in a sentence of its own is evidence of a question ("le bus passe par Macon ?")
        asked = ev.question and len(tokens) - sum(map(_BREAKERS.__contains__, tokens)) >= _QUESTION_WORDS
        nature = self._rule_nature(ev, reason, asked, language)
        if nature in ("compliment", "complaint") and not reason and not topics and not any(map(str.isalnum, body)):
            nature = "unclear"  # "👍", "😡😡😡": a feeling, nothing to act on ("🥶" names a topic: a complaint)
            decided.add("nature")
            rules.append("nature: unclear (emoji alone: a feeling, nothing to act on)")
        if opinions is not None:
            other = language == "other"  # words the rules cannot read: the model decides
            mine = bool(self._operator or self._operator_stems) and any(  # an operator's phrase: the rules'
                f.removesuffix(" (negated)") in self._operator or f.startswith(self._operator_stems) for f in ev.fired)
            if not topics and (other or opinions["topic"].probability >= SURE_PROBABILITY) \
                    and opinions["topic"].label in self._priority:  # a topic the configuration still has
                topic = opinions["topic"].label  # no topic rule fired
                rules.append(opinions["topic"].explain("topic"))
            elif len(topics) > 1 and reason != "safety" and not mine:  # the model arbitrates the rules' topics
                said = opinions["topic"]
                total = sum(topics.values())
                blend = {t: RULE_SHARE * w / total + said.probability_of(t) for t, w in topics.items()}
                chosen = max(blend, key=lambda t: (blend[t], topics[t], -self._priority[t]))
                if chosen != topic:
                    rules.append(f"model:topic={chosen} ({said.probability_of(chosen):.2f} against {topic} "
                                 f"{said.probability_of(topic):.2f}; rules {topics[chosen]:g} "
                                 f"against {topics[topic]:g})")
                    topic = chosen
            said = opinions["topic"]  # a topic word read in a sentence about something else
            if (topics and not mine and said.label != topic and said.label in self._priority and not ev.safety
                    and said.probability >= (SAFETY_TOPIC_OVERRIDE if reason == "safety" else OTHER_OVERRIDE
                                             if said.label == self._default_topic else TOPIC_OVERRIDE)):
                words = ", ".join(f"{w} {v:+.1f}" for w, v in said.because())
                rules.append(f"model:topic={said.label} ({said.probability:.2f} against {topic} "
                             f"{said.probability_of(topic):.2f}{'; ' + words if words else ''})")
                topic = said.label
            said = opinions["nature"]
            # a greeting in any language stays unclear ("Hallo, guten Tag"), unless a word of it is glossed
            words = sum(map(str.isalpha, tokens)) + (0 if body.isascii() else _foreign_words(body))
            if ((nature == "unclear" and other and (words >= UNCLEAR_WORDS or said.label == "unclear" or glosses))
                    or (nature is None and said.probability >= NATURE_PROBABILITY)
                    or (nature == "unclear" and words >= UNCLEAR_WORDS and said.label != "unclear"
                        and said.probability >= UNCLEAR_PROBABILITY)):
                nature = said.label  # no evidence of a nature the rules can read
                # a sentence is something to act on, and an operator's phrase names a subject the model never saw
                if nature == "unclear" and ((other and words >= LONG_UNREAD) or mine):
                    nature = max((n for n in said.labels() if n != "unclear"), key=said.probability_of,
                                 default="complaint")
                rules.append(said.explain("nature", nature))
                decided.add("nature")
            elif (nature not in (None, "unclear") and not reason and not ev.conduct and not mine
                    and said.label != nature
                    and said.label != "unclear"
                    and (said.label != "question" or ev.question or ev.asks or nature != "complaint")
                    and said.probability >= (NATURE_MIXED if ev.positive and ev.negative else
                                             NATURE_LONG if len(tokens) >= LONG_WORDS else NATURE_OVERRIDE)):
                words = ", ".join(f"{w} {v:+.1f}" for w, v in said.because())
                rules.append(f"model:nature={said.label} ({said.probability:.2f} against {nature} "
                             f"{said.probability_of(nature):.2f}{'; ' + words if words else ''})")
                nature = said.label  # the rules' sentiment words read against the sentence's intent
                decided.add("nature")
            urgent = opinions["urgency"]
            danger = opinions["topic"]
            if (not reason and nature == "complaint" and doubt is None and topic == "safety"
                    and danger.label == "safety" and danger.probability >= SAFETY_URGENT):
                reason, urgency = "safety", "high"  # "seat belts snapped", "rack hanging loose": a danger in words
                words = ", ".join(f"{w} {v:+.1f}" for w, v in danger.because())  # no safety phrase names
                rules.append(f"model:urgency=high (a danger: topic safety at {danger.probability:.2f}"
                             f"{'; ' + words if words else ''})")
            elif (not reason and nature in URGENT_NATURES
                    and urgent.probability_of("high") >= URGENT_PROBABILITY):
                nature = "complaint"
                reason = "safety" if "safety" in (topic, opinions["topic"].label) else "churn"
                urgency = "high"
                rules.append(urgent.explain("urgency", "high"))
        nature = nature or "complaint"
        if nature == "unclear" and topic != self._default_topic:  # nothing to act on has no subject
            rules.append(f"topic: {self._default_topic} (unclear, not {topic})")
            topic = self._default_topic

        if "nature" in decided:
            pass  # the model's line says why
        elif nature == "unclear":
            rules.append("nature: unclear (no evidence of a topic, sentiment, urgency or request"
                         + (" in English or French)" if ev.fired else ")"))
        else:
            rules.append(f"nature: {nature} (positive {ev.positive:g}, negative {ev.negative:g})")
        if reason:
            rules.append(f"urgency: high ({reason})")
        elif doubt:
            rules.append(doubt)
        about_staff = False
        if reason == "safety" and ev.on_duty:
            about_staff = True
            rules.append(f"about: the staff on duty (safety: {', '.join(ev.on_duty)})")
        elif nature == "complaint" and ev.conduct:
            about_staff = True
            rules.append(f"about: the staff on duty (conduct: {', '.join(ev.conduct)})")
        elif nature == "complaint" and topic == "staff" and (named := [  # conduct no phrase lists ("nous a
                p for p in ev.on_duty if not p.endswith(_NEGATED)]):  # hurlé dessus") about the staff the message
            about_staff = True  # names (not "jamais de vendeur"): not sent to them
            rules.append(f"about: the staff on duty (a complaint about the staff naming them: {', '.join(named)})")
        elif nature == "complaint" and topic == "staff" and language == "other":  # conduct the rules cannot read:
            about_staff = True  # their behaviour may be the subject, so it is not sent to them
            rules.append("about: the staff on duty (topic staff, in another language)")
        elif nature == "complaint" and language == "other" and (named := [
                g[1:] for g in glosses if g[1:] in self._on_duty_words]):  # a complaint naming them, unread
            about_staff = True
            rules.append(f"about: the staff on duty (named in another language: {', '.join(named)})")
        rules.append(language_rule)
        return Classification(
            site=site.id if site else None, topic=topic, nature=nature, urgency=urgency,
            language=language, rules=rules, urgency_reason=reason, about_staff=about_staff,
        )

    def _rule_nature(self, ev: _Evidence, reason: str | None, asked: bool, language: str) -> str | None:
        """The nature the rules read, ``None`` when they found no evidence of one (a topic word alone)."""
        if not ev.fired and not asked:
            return "unclear"  # "ok", "hi", "test", "5", "ok?", an empty text: nothing to act on
        if language == "other" and not (reason or ev.positive or ev.negative):
            return "unclear"  # a topic word shared with another language ("conductor") is no complaint
        if reason:
            return "complaint"
        if ev.asks and ev.question and ev.negative <= 1 and not ev.suggestion:
            return "question"
        if ev.negative > 0:
            return "complaint"
        if ev.suggestion:
            return "suggestion"
        if ev.question or ev.asks:
            return "question"
        if ev.positive > 0:
            return "compliment"
        return None

    def _opinions(self, tokens: list[str]) -> dict[str, learned.Opinion] | None:
        if self._model is _SHIPPED:
            self._model = learned.shipped()
        model = self._model
        if model is None:
            return None
        return model.predict(tokens)  # type: ignore[attr-defined]

    @staticmethod
    def _model_words(tokens: list[str], ev: _Evidence, glosses: list[str]) -> list[str]:
        """What the model reads, as it was trained: the message's normal words, the English words glossing words
        of other languages (``=english``), then the rules' groups that fired (``g:name``, ``g:name~`` negated)."""
        groups = sorted({"g:" + f.split(":", 1)[0] + ("~" if f.endswith(_NEGATED) else "") for f in ev.fired})
        return tokens + glosses + groups

    def model_words(self, text: str, to_number: str | None = None) -> list[str]:
        """The words the learned model reads for a message (its training examples are these)."""
        body = self.site_for(text, to_number)[2]
        tokens, lookup = self._words_of(body)
        return self._model_words(tokens, self._evidence(tokens, lookup), self._glosses(tokens, body))

    def _evidence(self, tokens: list[str], lookup: Callable) -> _Evidence:
        """Walk the words that matter, in order: phrases, negation, punctuation, cues."""
        n = len(tokens)
        entries = list(map(lookup, tokens))
        phrases, window, negators = self._phrases, self._window, self._negators
        topics: dict[str, float] = {}
        fired: list[str] = []
        positive = negative = churn = 0.0
        safety = suggestion = question = asks = False
        on_duty: list[str] = []
        conduct: list[str] = []
        doubtful: list[str] = []
        doubtful_topics: dict[str, float] = {}
        en = fr = 0
        negator_at = -100
        breaker_at = -1
        driving = False
        deferred: list[tuple[_Rule, str]] = []  # while_driving rules, counted at the end if someone drives
        pending: int | None = None  # position of a negator awaiting a topic word
        pending_word = ""
        shift = 0  # words merged into earlier phrases: position = index - shift
        free = 0  # the first index not inside a phrase already matched
        for i in compress(range(n), entries):  # the words that matter, in order
            if i < free:
                continue
            token = tokens[i]
            position = i - shift
            entry = entries[i]
            length = 1
            if type(entry) is _Start:
                matched = entry.rules
                if i + 1 < n and tokens[i + 1] in entry.nexts:
                    for size in entry.lengths:
                        if size <= n - i:
                            found = phrases.get(tuple(tokens[i:i + size]))
                            if found:
                                matched, length = found, size
                                break
            else:
                matched = entry
            if token in _BREAKERS:
                breaker_at = position
                if token == "?":
                    question = True
            if matched and matched is not True:
                if length == 1:
                    phrase = token
                    negated = negator_at > breaker_at and position - negator_at <= window
                else:
                    words = tokens[i:i + length]
                    phrase = " ".join(words)
                    negated = (negator_at > breaker_at and position - negator_at <= window
                               and negators.isdisjoint(words))
                    shift += length - 1
                    free = i + length
                at_start = position == 0 or breaker_at == position - 1
                negated_near = negated or (
                    negator_at > breaker_at and position - negator_at <= window + 2
                ) or (i + length < n and tokens[i + length] in _AFTER_NEGATORS)
                for rule in matched:
                    if rule.while_driving:
                        deferred.append((rule, phrase))
                        continue
                    rule_negated = negated_near if rule.negated_only else negated
                    counts = False
                    if rule.topic:
                        topics[rule.topic] = topics.get(rule.topic, 0.0) + rule.weight
                        counts = True
                    if rule.sentiment:
                        if (-rule.sentiment if rule_negated else rule.sentiment) > 0:
                            positive += 1
                        else:
                            negative += 1
                            if rule.conduct:
                                conduct.append(phrase)
                        counts = True
                    if rule.urgency and (rule_negated or not rule.negated_only):
                        if rule.urgency == "safety" and (rule.doubtful or rule_negated):
                            doubtful.append(phrase + _NEGATED if rule_negated else phrase)
                            if rule.topic:
                                doubtful_topics[rule.topic] = doubtful_topics.get(rule.topic, 0.0) + rule.weight
                        elif rule.urgency == "safety":
                            safety = True
                        else:
                            churn += rule.weight
                        counts = True
                    cue = rule.cue
                    if cue is None:
                        pass
                    elif cue == "negator":
                        negator_at = pending = position
                        pending_word = phrase
                    elif cue == "breaker":
                        breaker_at = position
                    elif cue == "suggestion":
                        suggestion = counts = True
                    elif cue == "question":
                        if at_start:
                            asks = counts = True
                    elif cue == "ask":
                        asks = question = counts = True
                    elif cue == "problem":
                        negative += rule.weight
                        counts = True
                    elif cue == "on_duty":
                        on_duty.append(phrase + _NEGATED if rule_negated else phrase)
                        counts = True
                    elif cue == "driving":
                        driving = True
                    if rule.language == "en":
                        en += 1
                    elif rule.language == "fr":
                        fr += 1
                    if counts:
                        fired.append(f"{rule.name}: {phrase} (negated)" if rule_negated
                                     else f"{rule.name}: {phrase}")
                    if (rule.topic_only and pending is not None and position - pending <= 2
                            and pending > breaker_at):
                        negative += 1
                        fired.append(f"problem: {pending_word} ... {phrase}")
                        pending = None
        for rule, phrase in deferred if driving else ():
            if rule.topic:
                topics[rule.topic] = topics.get(rule.topic, 0.0) + rule.weight
            negative += rule.sentiment < 0
            safety = safety or rule.urgency == "safety"
            fired.append(f"{rule.name}: {phrase} (someone driving)")
        return _Evidence(topics, positive, negative, churn, safety, suggestion, question, asks, en, fr, fired,
                         on_duty, conduct, doubtful, doubtful_topics)

    def _language(self, tokens: list[str], body: str, site: Site | None, ev: _Evidence) -> tuple[str, str]:
        """The language and its explanation: ``other`` when words of another configured language
        (two at least) outnumber the English and the French ones; otherwise English and French words
        (and French letters, up to two) counted: the larger count wins. A text written mostly in letters of
        another alphabet (Chinese, Japanese, Korean, Arabic, Cyrillic, Greek, Devanagari...) is ``other``."""
        if not body.isascii():
            letters = [c for c in body if c.isalpha()]
            foreign = _foreign_letters(body)
            if foreign >= 2 and 2 * foreign > len(letters):
                return "other", f"language: other ({foreign} of {len(letters)} letters not of the Latin alphabet)"
        if not self._other_words.isdisjoint(tokens):
            others: dict[str, int] = {}
            for token in tokens:
                name = self._other_of.get(token)
                if name:
                    others[name] = others.get(name, 0) + 1
            name, count = max(others.items(), key=lambda item: item[1])
            en = ev.en + sum(t in self._en for t in tokens)
            fr = ev.fr + sum(t in self._fr for t in tokens)
            if count >= 2 and count > max(en, fr):
                return "other", f"language: other ({name}: {count} words, English {en}, French {fr})"
        language = self._en_or_fr(tokens, body, site, ev)
        return language, f"language: {language}"

    def _en_or_fr(self, tokens: list[str], body: str, site: Site | None, ev: _Evidence) -> str:
        lean = ev.en - ev.fr + sum(map(self._lean.get, tokens, repeat(0)))  # > 0: more English
        if not body.isascii():
            letters = _FRENCH_LETTERS.intersection(body)
            if letters:
                lean -= min(2, sum(map(body.count, letters)))
        if lean < 0:
            return "fr"
        if lean > 0:
            return "en"
        if site is not None:
            return site.language
        return self._config.deployment.default_language


MEDIA_ONLY_RULE = "media only: a photo, a video or a voice message with no text"  # its reply asks for words


def media_only(classification: Classification, text: str, num_media: int) -> Classification:
    """``classification`` of a message's ``text``, noting a message that is media alone (a WhatsApp photo, an MMS):
    nothing to read, so its reply asks for words (:func:`chalicelib.replies.build_reply`). Media are never fetched."""
    if num_media <= 0 or text.strip():
        return classification
    return replace(classification, rules=[*classification.rules, MEDIA_ONLY_RULE])
