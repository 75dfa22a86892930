"""What the rules studio's routes answer (issue 22): a backtest, an explanation, suggestions. Re-exported by
``chalicelib.api.responses``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Labels(_Out):
    topic: str
    nature: str
    urgency: str
    language: str
    rules: list[str] = Field(description="The rules that fired, as the classifier records them")


class ChangeExample(_Out):
    id: str | None
    received_at: str | None
    site: str | None
    text: str | None = Field(description="Forbidden words masked, as in the feed")
    old: Labels = Field(description="With the current rules")
    new: Labels = Field(description="With the draft")


class Transition(_Out):
    from_: str = Field(alias="from")
    to: str
    count: int


class LabelChanges(_Out):
    count: int = Field(description="Messages whose label would change")
    transitions: list[Transition] = Field(description="Most frequent first")
    examples: list[ChangeExample] = Field(description="Newest first")


class Accuracy(_Out):
    before: float = Field(description="Share of the corrected messages the current rules label as corrected")
    after: float = Field(description="The same with the draft")
    right_before: int
    right_after: int


class BacktestQuality(_Out):
    corrected: int = Field(description="Messages a manager corrected (their labels taken as ground truth)")
    topic: Accuracy | None = None
    nature: Accuracy | None = None
    urgency: Accuracy | None = None
    net_fixed: int | None = Field(default=None, description="Corrected messages all three labels of which the "
                                                            "draft gets right, less those the current rules did")


class RulesPreview(_Out):
    version: int = Field(description="The live version the draft is compared with")
    since: str
    until: str
    site: str | None
    read: int = Field(description="Messages read and classified with both")
    skipped: int = Field(description="Messages read without text (erased)")
    complete: bool = Field(description="false: the period held more than `cap` messages; the newest were read")
    cap: int
    changed: int = Field(description="Messages with at least one label changed")
    changes: dict[str, LabelChanges] = Field(description="topic, nature, urgency, language")
    quality: BacktestQuality


class FiredRule(_Out):
    group: str = Field(description="The lexicon group")
    phrase: str = Field(description="The phrase matched, in normal words")
    negated: bool
    effect: dict[str, str | int] = Field(description="What the group adds: topic, sentiment, urgency, cue")


class RulesExplanation(_Out):
    site: str | None
    topic: str
    nature: str
    urgency: str
    urgency_reason: str | None
    language: str
    about_staff: bool
    rules: list[str] = Field(description="Every rule that fired and every decision, in order")
    words: list[str] = Field(description="The message's normal words, as the rules read them")
    fired: list[FiredRule]
    draft: bool = Field(description="true: explained with the draft given")


class Suggestion(_Out):
    phrase: str = Field(description="A word or two-word phrase, normalised as the classifier reads messages")
    kind: str = Field(description="topic or nature")
    label: str = Field(description="The corrected label the phrase is frequent in")
    count: int = Field(description="Corrected messages of that label holding the phrase")
    messages: list[str] = Field(description="Some of their ids")
    group: str | None = Field(description="The lexicon group it would join in a draft")


class RulesSuggestions(_Out):
    since: str
    until: str
    read: int
    complete: bool
    corrected: int
    items: list[Suggestion]
