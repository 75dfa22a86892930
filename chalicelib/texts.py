"""Texts the configuration writes in English and French: :class:`Localised`, and the reply templates staff
pick from on a case (``[[templates]]`` of ``replies.toml``)."""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Localised(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: str
    fr: str

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


# what a template may name: {name} is the one replying (filled in on the dashboard), the others come from the
# case's site and promise (chalicelib.replies.placeholders)
TEMPLATE_FIELDS = frozenset({"name", "site", "delay", "staff", "team", "emergency", "hours", "minutes"})


def fields_of(text: str) -> set[str]:
    """The placeholders of ``text`` (``ValueError`` for a brace that is not one)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class ReplyTemplate(BaseModel):
    """A canned answer staff start a reply from: per language, with placeholders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    title: Localised = Field(description="What the picker shows")
    text: Localised = Field(description="The reply; {name} {site} {delay} {staff} {team} {emergency} may be used")

    @field_validator("text")
    @classmethod
    def _known_fields(cls, text: Localised) -> Localised:
        for language in ("en", "fr"):
            try:
                unknown = fields_of(text.get(language)) - TEMPLATE_FIELDS
            except ValueError as exc:
                raise ValueError(f"text.{language}: {exc}") from exc
            if unknown:
                raise ValueError(f"text.{language}: unknown placeholder {{{sorted(unknown)[0]}}} "
                                 f"(use {', '.join('{' + f + '}' for f in sorted(TEMPLATE_FIELDS))})")
        return text
