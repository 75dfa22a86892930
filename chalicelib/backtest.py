"""The rules studio (issue 22): backtest a draft of the rules on stored messages, explain one message, and
suggest phrases from the messages managers corrected.

Pure Python over the ``Messages`` port (``feedback``: a period read newest first, day by day) and two compiled
classifiers; nothing is stored. Reading is bounded: at most ``READ_CAP`` messages, the newest of the period; a
backtest that stopped there says ``complete: false``.

A message corrected by a manager carries ``machine`` (``{topic, nature, urgency}``: the labels the classifier
gave it) and its own ``topic``, ``nature`` and ``urgency`` are the corrected ones: those are the ground truth of
the quality figures and the source of the suggestions. Messages without ``machine`` are not counted there.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from chalicelib.classification import Classification, Classifier
from chalicelib.clock import days_between, iso
from chalicelib.configuration import Config
from chalicelib.moderation import mask

READ_CAP = 50_000  # messages read at most, the newest of the period
PAGE = 1_000  # messages asked of the store per call
KINDS = ("topic", "nature", "urgency", "language")
CORRECTED_KINDS = ("topic", "nature", "urgency")
SUGGESTED_KINDS = ("topic", "nature")
# the fields a backtest or a suggestion uses: only these are kept of each message read (50,000 whole items,
# with their replies, rules and index attributes, would hold several times the memory)
KEPT = ("id", "received_at", "site", "text", "to_number", "topic", "nature", "urgency", "language", "machine")
MIN_COUNT = 2  # a phrase seen in fewer corrected messages of a label is not suggested
MAX_SUGGESTIONS = 50
EXAMPLE_IDS = 5
# function words of English and French (a suggestion is a content word, or two)
_STOP = (
    "a an the and or but if of to in on at by for with from as is are was were be been being am it its this "
    "that these those there here i me my mine you your we us our they them their he she him his her im ive id "
    "dont not no yes ok okay so too very really just also then than had has have do does did get got one all any "
    "some more most what when where why how who which can could would should will never always again still after "
    "before only even well now into out up down off over yet because about "
    "le la les un une des du de d l et ou mais si au aux en dans sur sous sans chez pour par avec est sont etait "
    "etaient ete suis es sommes etes ai as avons avez ont avait ce cet cette ces je j me m moi tu te toi il elle "
    "lui on nous vous ils elles eux mon ma mes ton ta tes son sa ses notre nos votre vos leur leurs qui que qu "
    "quoi ne n pas plus y c s ca oui non tres aussi donc ni tout tous toute toutes bien encore deja toujours "
    "jamais rien peu quand comment pourquoi se avoir etre comme alors parce meme va aujourd hui")
STOP_WORDS = frozenset(_STOP.split())


def read_messages(messages: Any, *, since: datetime, until: datetime, site: str | None = None,
                  cap: int = READ_CAP) -> tuple[list[dict[str, Any]], bool]:
    """The messages of the period, newest first, at most ``cap``; and whether that is all of them."""
    days = days_between(since, until)
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, cursor = messages.feedback(site=site, since=iso(since), until=iso(until), days=days, filters={},
                                         limit=min(PAGE, cap + 1 - len(out)), cursor=cursor)
        out.extend({k: m[k] for k in KEPT if k in m} for m in page)
        if len(out) > cap:
            return out[:cap], False
        if not cursor:
            return out, True


def corrected(message: dict[str, Any]) -> bool:
    return isinstance(message.get("machine"), dict)


def _labels(c: Classification) -> dict[str, Any]:
    return {"topic": c.topic, "nature": c.nature, "urgency": c.urgency, "language": c.language, "rules": c.rules}


def backtest(items: list[dict[str, Any]], current: Classifier, draft: Classifier, *, examples: int = 5,
             words: tuple[str, ...] = ()) -> dict[str, Any]:
    """Each message classified with the current rules and with the draft: what would change (counts, a table
    of transitions and the first ``examples`` of each change, newest first, the text masked as the feed masks
    it), and the accuracy of both on the messages a manager corrected."""
    changed = dict.fromkeys(KINDS, 0)
    transitions: dict[str, Counter] = {kind: Counter() for kind in KINDS}
    shown: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    right = {kind: [0, 0] for kind in CORRECTED_KINDS}  # correct before, after
    read = skipped = fixed = n_corrected = any_change = 0
    for item in items:
        text = item.get("text")
        if not isinstance(text, str):  # an erased message keeps no text
            skipped += 1
            continue
        read += 1
        to = item.get("to_number")
        old = current.classify(text, to)
        new = draft.classify(text, to)
        moved = False
        for kind in KINDS:
            before, after = getattr(old, kind), getattr(new, kind)
            if before == after:
                continue
            moved = True
            changed[kind] += 1
            transitions[kind][(before, after)] += 1
            if len(shown[kind]) < examples:
                shown[kind].append({"id": item.get("id"), "received_at": item.get("received_at"),
                                    "site": item.get("site"), "text": mask(text, words),
                                    "old": _labels(old), "new": _labels(new)})
        any_change += moved
        if corrected(item):
            n_corrected += 1
            was = now = True
            for kind in CORRECTED_KINDS:
                truth = item.get(kind)
                right[kind][0] += getattr(old, kind) == truth
                right[kind][1] += getattr(new, kind) == truth
                was = was and getattr(old, kind) == truth
                now = now and getattr(new, kind) == truth
            fixed += now - was
    quality: dict[str, Any] = {"corrected": n_corrected}
    if n_corrected:
        quality.update({kind: {"before": round(right[kind][0] / n_corrected, 4),
                               "after": round(right[kind][1] / n_corrected, 4),
                               "right_before": right[kind][0], "right_after": right[kind][1]}
                        for kind in CORRECTED_KINDS})
        quality["net_fixed"] = fixed
    return {
        "read": read, "skipped": skipped, "changed": any_change,
        "changes": {kind: {"count": changed[kind],
                           "transitions": [{"from": a, "to": b, "count": n}
                                           for (a, b), n in sorted(transitions[kind].items(),
                                                                   key=lambda pair: (-pair[1], pair[0]))],
                           "examples": shown[kind]} for kind in KINDS},
        "quality": quality,
    }


def explain(classifier: Classifier, config: Config, text: str, to: str | None = None) -> dict[str, Any]:
    """One text's classification (as ``python -m chalicelib classify`` prints it) and why: the site and how it
    was found, the normal words the rules saw, and for each lexicon phrase that fired, its group's effect."""
    result = classifier.classify(text, to)
    groups = {g.name: g for g in config.rules.lexicon}
    body = classifier.site_for(text, to)[2]
    fired = []
    for rule in result.rules:
        name, _, phrase = rule.partition(": ")
        group = groups.get(name)
        if group is None:
            continue
        negated = phrase.endswith(" (negated)")
        effect = {k: v for k, v in (("topic", group.topic), ("sentiment", group.sentiment or None),
                                    ("urgency", group.urgency), ("cue", group.cue)) if v}
        fired.append({"group": name, "phrase": phrase.removesuffix(" (negated)"), "negated": negated,
                      "effect": effect})
    return {**result.as_dict(), "urgency_reason": result.urgency_reason, "words": classifier.tokens(body),
            "fired": fired}


def _target_group(config: Config, kind: str, label: str) -> str | None:
    """The lexicon group a phrase suggested for ``label`` would join: the first group giving that topic, or
    the cue or sentiment that makes that nature."""
    for group in config.rules.lexicon:
        if group.negated_only:
            continue
        if kind == "topic" and group.topic == label:
            return group.name
        if kind == "nature" and not group.topic and (
                (label == "suggestion" and group.cue == "suggestion") or (label == "question" and group.cue == "ask")
                or (label == "complaint" and group.sentiment == -1 and not group.cue)
                or (label == "compliment" and group.sentiment == 1 and not group.cue)):
            return group.name
    return None


def _candidates(words: list[str], stop: frozenset[str]) -> set[str]:
    """The words and two-word phrases of a message worth suggesting (no stop word, no number, no sign)."""
    good = [w if w.isalpha() and len(w) > 2 and w not in stop else None for w in words]
    out = {w for w in good if w}
    out.update(f"{a} {b}" for a, b in zip(good, good[1:], strict=False) if a and b)
    return out


def suggestions(items: list[dict[str, Any]], classifier: Classifier, config: Config, *,
                limit: int = MAX_SUGGESTIONS) -> list[dict[str, Any]]:
    """Phrases frequent in the corrected messages of a label (a topic or a nature a manager gave, other than
    the machine's) and absent from the rules: each with its label, how many such messages hold it, and some
    of their ids. Normalised as the classifier reads messages; most frequent first."""
    counts: Counter = Counter()
    ids: dict[tuple[str, str, str], list[str]] = {}
    known: dict[str, bool] = {}
    for item in items:
        machine, text = item.get("machine"), item.get("text")
        if not isinstance(machine, dict) or not isinstance(text, str):
            continue
        labels = [(kind, item[kind]) for kind in SUGGESTED_KINDS
                  if isinstance(item.get(kind), str) and item.get(kind) != machine.get(kind)]
        if not labels:
            continue
        words = classifier.tokens(classifier.site_for(text, item.get("to_number"))[2])
        for phrase in _candidates(words, STOP_WORDS):
            if phrase not in known:
                known[phrase] = classifier.knows(phrase.split())
            if known[phrase]:
                continue
            for kind, label in labels:
                key = (kind, label, phrase)
                counts[key] += 1
                if len(ids.setdefault(key, [])) < EXAMPLE_IDS:
                    ids[key].append(item.get("id"))
    ranked = sorted((n, key) for key, n in counts.items() if n >= MIN_COUNT)
    ranked.sort(key=lambda pair: (-pair[0], pair[1]))
    return [{"phrase": phrase, "kind": kind, "label": label, "count": n, "messages": ids[(kind, label, phrase)],
             "group": _target_group(config, kind, label)} for n, (kind, label, phrase) in ranked[:limit]]
