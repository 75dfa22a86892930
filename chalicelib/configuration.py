"""Deployment configuration, as pydantic models: sites, classification rules, replies and routing.

Everything an operator tunes lives in TOML files under ``chalicelib/config/`` (or ``VOIX_CONFIG_DIR``);
:mod:`chalicelib.config_loader` reads them into these models, whose validators fail a bad file at start-up.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.conversations import ConversationSettings
from chalicelib.phone import InvalidNumber, normalise
from chalicelib.readers import HELP, Readers, unknown
from chalicelib.shifts import WEEKDAYS as WEEKDAYS
from chalicelib.shifts import Shift
from chalicelib.texts import Localised, ReplyTemplate

DEFAULT_TOPICS = ("comfort", "cleanliness", "staff", "punctuality", "waiting", "price", "product", "safety",
                  "accessibility", "other")
NATURES = ("complaint", "compliment", "suggestion", "question", "unclear")  # unclear: no evidence at all
URGENCIES = ("normal", "high")
LANGUAGES = ("en", "fr", "other")  # other: recognised as neither (answered in the site's)

ACK_BOUNDS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)  # seconds, histogram edges
Language = Literal["en", "fr"]


def _international(number: str) -> str:
    """A configured number as messages carry it (E.164), read by phonenumbers: "+44 (0)7700 900008" and
    "0044 7700 900008" are +447700900008. Only the international form: a national number has no country."""
    if not re.fullmatch(r"\s*(\+|00)[\d\s().-]+", number):
        raise ValueError(f"{number!r} is not a phone number in international format, e.g. +447700900123")
    try:
        return normalise(number)
    except InvalidNumber as exc:
        raise ValueError(f"{number!r} is not a valid phone number (international format, e.g. +447700900123)") from exc


def _address(address: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
        raise ValueError(f"{address!r} is not an e-mail address")
    return address


PhoneNumber = Annotated[str, AfterValidator(_international)]
Email = Annotated[str, AfterValidator(_address)]
Nature = Literal["complaint", "compliment", "suggestion", "question", "unclear"]
Urgency = Literal["normal", "high"]
Recipient = Literal["site_staff", "site_manager", "care"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteKind(_Strict):
    staff: Localised = Field(description="Who is on the spot, as named in replies: driver, store manager")
    team: Localised


class Site(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str
    short_name: Localised = Field(description="GSM-7 friendly name used in SMS replies")
    kind: str
    language: Language
    timezone: str = "UTC"
    numbers: list[PhoneNumber] = Field(default_factory=list)
    email_addresses: list[Email] = Field(default_factory=list, description="Addresses customers write to "
                                         "(SES receiving): the e-mail channel's numbers")
    codes: list[str] = Field(min_length=1)
    staff_sms: list[PhoneNumber] = Field(default_factory=list)
    manager_email: list[Email] = Field(default_factory=list)
    callback_minutes: int = Field(default=10, ge=1, le=1440,
                                  description="Promise for urgent cases: acknowledged (the call-back) within")
    ack_minutes: int = Field(default=120, ge=1, le=10080, description="Promise for the other cases")
    manager_sms: list[PhoneNumber] = Field(default_factory=list, description="Escalation level 1 by SMS")
    roster: list[Shift] = Field(default_factory=list, description="Who is on duty when, for scorecards")
    languages: Readers = Field(default_factory=dict, description=HELP + " (default: the site's language)")
    offer_daily_budget: int = Field(default=0, ge=0, le=100_000, description="Goodwill offers a day, at most")
    emergency_number: str = "112"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r} (an IANA name such as Europe/London)") from exc
        return zone

    @model_validator(mode="after")
    def _known_readers(self) -> Site:
        if reader := unknown(self.languages, self.staff_sms, self.manager_sms, self.manager_email):
            raise ValueError(f"languages: {reader!r} is none of the site's staff_sms, manager_sms, manager_email")
        return self

    @field_validator("codes")
    @classmethod
    def _codes_upper(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not code.isalnum():
                raise ValueError(f"site code {code!r} must be letters and digits only")
        return [c.upper() for c in codes]


class Deployment(_Strict):
    name: str
    central_numbers: list[PhoneNumber] = Field(default_factory=list)
    central_email: Email | None = Field(default=None, description="One address for every site: the site's code "
                                        "leads the subject or the first line")
    reply_from_email: Email | None = Field(default=None, description="Replies by e-mail come from this address "
                                           "(else from the address the customer wrote to)")
    care_email: list[Email] = Field(min_length=1)
    alert_from_email: Email
    care_reply_hours: int = Field(default=2, ge=1, le=168)
    care_sms: list[PhoneNumber] = Field(default_factory=list, description="Escalation level 2 by SMS")
    staff_numbers: list[PhoneNumber] = Field(default_factory=list,
                                     description="Staff who may acknowledge by SMS besides the sites' staff_sms")
    forbidden_words: list[str] = Field(default_factory=list, description="Masked in the dashboard, API and "
                                       "exports (insults, competitors); the original is kept for audit")
    offer_customer_cap: int = Field(default=1, ge=0, le=100, description="Offers per customer per period")
    offer_cap_days: int = Field(default=30, ge=1, le=366)
    offer_staff_daily_limit: int = Field(default=3, ge=0, le=1000,
                                         description="Offers a member of staff may issue a day without approval")
    sender_messages_per_minute: int = Field(default=6, ge=0, le=1000, description="Beyond this, a sender's "
                                            "messages are neither stored nor answered (0: no limit)")
    alerts_per_sender_per_hour: int = Field(default=3, ge=0, le=1000, description="Cases beyond this alert nobody")
    survey_cap: int = Field(default=1, ge=0, le=100, description="Surveys per number per survey_cap_days")
    survey_cap_days: int = Field(default=30, ge=1, le=366)
    quiet_hours_start: int = Field(default=21, ge=0, le=23, description="No survey sent from this local hour...")
    quiet_hours_end: int = Field(default=9, ge=0, le=23, description="...until this one")
    survey_late_answer_days: int = Field(default=7, ge=0, le=30, description="A bare score from a number surveyed "
                                         "this many days ago, after its survey closed, is a late answer, not feedback")
    carrier_opt_out: bool = Field(default=False, description="End User Messaging managed opt-outs are on: "
                                  "the carrier answers STOP/START/HELP, Voix only records them")
    help_text: Localised = Localised(
        en="Voix customer feedback: text us your comments. Reply STOP to opt out. Msg&data rates may apply.",
        fr="Voix avis clients : envoyez-nous vos remarques. Repondez STOP pour ne plus recevoir de SMS.")
    default_language: Language = "en"
    languages: Readers = Field(default_factory=dict, description=HELP + " (default: default_language)")
    emergency_number: str = "112"
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)


class SitesFile(_Strict):
    deployment: Deployment
    kinds: dict[str, SiteKind]
    sites: list[Site]

    @model_validator(mode="after")
    def _consistent(self) -> SitesFile:
        d = self.deployment
        if reader := unknown(d.languages, d.care_email, d.care_sms, d.staff_numbers):
            raise ValueError(f"deployment.languages: {reader!r} is none of care_email, care_sms, staff_numbers")
        seen_codes: dict[str, str] = {}
        seen_numbers: dict[str, str] = {}
        ids = set()
        for site in self.sites:
            if site.id in ids:
                raise ValueError(f"site id {site.id!r} is defined twice")
            ids.add(site.id)
            if site.kind not in self.kinds:
                raise ValueError(f"site {site.id!r} has kind {site.kind!r}, not one of {sorted(self.kinds)}")
            for code in site.codes:
                if code in seen_codes:
                    raise ValueError(f"code {code!r} is used by {seen_codes[code]!r} and {site.id!r}")
                seen_codes[code] = site.id
            for number in [*site.numbers, *site.email_addresses]:
                if number in seen_numbers or number in [*self.deployment.central_numbers,
                                                        self.deployment.central_email]:
                    raise ValueError(f"number {number!r} of site {site.id!r} is used twice")
                seen_numbers[number] = site.id
        return self


class LexiconGroup(_Strict):
    """Phrases that, when found in a message, add evidence for one or more features."""

    name: str
    phrases: list[str] = Field(min_length=1)
    topic: str | None = None
    weight: float = Field(default=1.0, gt=0, le=10)
    sentiment: Literal[-1, 0, 1] = 0
    urgency: Literal["churn", "safety"] | None = None
    cue: Literal["suggestion", "question", "ask", "negator", "breaker", "problem", "on_duty", "driving"] | None = Field(
        default=None, description="on_duty: the phrase names the staff on duty or their conduct (driver, at the "
        "wheel); driving: the phrase names someone driving (see while_driving)")
    language: Language | None = Field(default=None, description="Phrases are words of this language")
    negated_only: bool = Field(default=False, description="The urgency counts only when negated: 'won't come back'")
    while_driving: bool = Field(default=False, description="The group counts only in a message naming someone "
                                "driving (cue driving): a driver's phone is a safety matter, a shop assistant's not")
    doubtful: bool = Field(default=False, description="Safety words often meant otherwise ('a lovely touch'): urgent "
                           "unless the learned model is sure the message is not")


class LanguageWords(_Strict):
    en: list[str]
    fr: list[str]
    others: dict[str, list[str]] = Field(default_factory=dict, description="Common words of languages Voix does "
                                         "not answer in (es, de...): a message in one is recognised as such")


class RulesFile(_Strict):
    topics: list[str] = Field(default_factory=lambda: list(DEFAULT_TOPICS), min_length=1,
                              description="The taxonomy; the last topic takes what no rule claims")
    aliases: dict[str, str] = Field(default_factory=dict)
    topic_priority: list[str] = Field(default_factory=list)
    negation_window: int = Field(default=3, ge=1, le=6)
    churn_threshold: float = Field(default=2.0, gt=0)
    staff_topic: str | None = Field(default="staff", description="The topic of the staff's conduct: a problem "
                                    "phrase of it (rude, not friendly) makes a complaint about the staff on duty")
    language_words: LanguageWords
    lexicon: list[LexiconGroup]
    glosses: dict[str, list[str]] = Field(default_factory=dict, description="English word -> words of other "
                                          "languages the learned model reads as it (rules.toml, 'glosses')")

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", topic):
                raise ValueError(f"topic {topic!r}: use lower-case letters, digits and dashes")
        if len(set(topics)) != len(topics):
            raise ValueError("a topic is listed twice")
        return topics

    @model_validator(mode="after")
    def _known_topics(self) -> RulesFile:
        if self.staff_topic is not None and self.staff_topic not in self.topics:
            raise ValueError(f"staff_topic {self.staff_topic!r} is not one of the topics")
        unknown = set(self.topic_priority) - set(self.topics)
        if unknown:
            raise ValueError(f"topic_priority names unknown topics {sorted(unknown)}")
        for group in self.lexicon:
            if group.topic is not None and group.topic not in self.topics:
                raise ValueError(f"lexicon group {group.name!r}: unknown topic {group.topic!r}; "
                                 f"known: {', '.join(self.topics)}")
        return self

    @property
    def priority(self) -> list[str]:
        return self.topic_priority + [t for t in self.topics if t not in self.topic_priority]

    @property
    def default_topic(self) -> str:
        return self.topics[-1]


class Match(_Strict):
    """Conditions on a classified message; an absent condition matches anything."""

    nature: list[Nature] | None = None
    topic: list[str] | None = None
    urgency: list[Urgency] | None = None
    urgency_reason: list[Literal["churn", "safety"]] | None = None
    kind: list[str] | None = Field(default=None, description="Site kinds (coach, store...)")
    site_known: bool | None = None
    about_staff: bool | None = Field(default=None, description="The complaint is about the staff on duty")
    can_call: bool | None = Field(default=None, description="The channel has a number to call back (not e-mail)")

    def matches(self, *, nature: str, topic: str, urgency: str, urgency_reason: str | None,
                site_kind: str | None, site_known: bool, about_staff: bool = False, can_call: bool = True) -> bool:
        return (
            (self.nature is None or nature in self.nature)
            and (self.topic is None or topic in self.topic)
            and (self.urgency is None or urgency in self.urgency)
            and (self.urgency_reason is None or urgency_reason in self.urgency_reason)
            and (self.kind is None or site_kind in self.kind)
            and (self.site_known is None or site_known == self.site_known)
            and (self.about_staff is None or about_staff == self.about_staff)
            and (self.can_call is None or can_call == self.can_call)
        )


class ReplyRule(_Strict):
    name: str
    when: Match = Field(default_factory=Match)
    offer: bool = False
    promise: Literal["acknowledge", "reply"] = Field(default="acknowledge", description="What the case's promise "
                                                     "({delay}) measures: acknowledged in time, or a staff reply sent")
    text: Localised
    no_offer: Localised | None = Field(default=None, description="The text when no offer can be issued "
                                       "(the site's daily budget is spent, or the customer had one lately)")

    @model_validator(mode="after")
    def _offer_has_fallback(self) -> ReplyRule:
        if self.offer and self.no_offer is None:
            raise ValueError(f"reply {self.name!r} gives an offer: it needs a no_offer text for when it cannot")
        return self


class RepliesFile(_Strict):
    replies: list[ReplyRule] = Field(min_length=1)
    templates: list[ReplyTemplate] = Field(default_factory=list, description="Staff replies' starting points")

    @model_validator(mode="after")
    def _has_fallback(self) -> RepliesFile:
        if self.replies[-1].when != Match():
            raise ValueError("the last reply must have no conditions, so every message gets an answer")
        ids = [t.id for t in self.templates]
        if len(ids) != len(set(ids)):
            raise ValueError(f"templates: the id {next(i for i in ids if ids.count(i) > 1)!r} is used twice")
        return self


class RoutingRule(_Strict):
    name: str
    when: Match = Field(default_factory=Match)
    sms: list[Recipient] = Field(default_factory=list)
    email: list[Recipient] = Field(default_factory=list)


class RoutingFile(_Strict):
    routing: list[RoutingRule]

    @model_validator(mode="after")
    def _never_to_the_person_complained_about(self) -> RoutingFile:
        for rule in self.routing:
            if rule.when.about_staff and "site_staff" in rule.sms + rule.email:
                raise ValueError(f"routing rule {rule.name!r} sends a complaint about the staff on duty to "
                                 "site_staff: it goes to site_manager and care, never to the person it is about")
        return self


class Config(BaseModel):
    """The whole validated configuration, with look-up tables built once."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    sites_file: SitesFile
    rules: RulesFile
    replies: RepliesFile
    routing: RoutingFile

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        kinds = set(self.sites_file.kinds)
        for rule in [*self.replies.replies, *self.routing.routing]:
            for topic in rule.when.topic or []:
                if topic not in self.rules.topics:
                    raise ValueError(f"rule {rule.name!r} names unknown topic {topic!r}")
            for kind in rule.when.kind or []:
                if kind not in kinds:
                    raise ValueError(f"rule {rule.name!r} names unknown site kind {kind!r}")
        return self

    @property
    def topics(self) -> list[str]:
        return self.rules.topics

    def counter_fields(self) -> list[str]:
        """Every per-hour counter: totals by nature, topic, urgency and language, and the
        topic × nature × urgency cross counts that let any filter of the three be answered exactly."""
        return (["n"] + [f"nature_{v}" for v in NATURES] + [f"topic_{v}" for v in self.topics]
                + [f"urgency_{v}" for v in URGENCIES] + [f"language_{v}" for v in LANGUAGES]
                + [f"x_{t}_{n}_{u}" for t in self.topics for n in NATURES for u in URGENCIES]
                + ["ack_n", "ack_s", "ack_gt"] + [f"ack_le_{b}" for b in ACK_BOUNDS]
                + ["promise_kept", "promise_missed", "first_reply_n", "first_reply_s", "reopened"])

    @property
    def deployment(self) -> Deployment:
        return self.sites_file.deployment

    @property
    def sites(self) -> list[Site]:
        return self.sites_file.sites

    def site(self, site_id: str | None) -> Site | None:
        return self._sites_by_id.get(site_id) if site_id else None

    def site_by_number(self, number: str) -> Site | None:
        return self._sites_by_number.get(number)

    def site_by_address(self, address: str) -> Site | None:
        """The site an e-mail address belongs to (None for the central address or an unknown one)."""
        return self._sites_by_number.get((address or "").lower())

    def is_staff(self, number: str) -> bool:
        return number in self._staff_numbers

    def site_kind(self, site: Site) -> SiteKind:
        return self.sites_file.kinds[site.kind]

    def model_post_init(self, __context: object) -> None:
        sites = self.sites_file.sites
        self._sites_by_id = {s.id: s for s in sites}
        self._sites_by_number = {n: s for s in sites for n in [*s.numbers, *(a.lower() for a in s.email_addresses)]}
        self._staff_numbers = frozenset([n for s in sites for n in [*s.staff_sms, *s.manager_sms]]
                                        + self.sites_file.deployment.staff_numbers
                                        + self.sites_file.deployment.care_sms)

    _sites_by_id: dict[str, Site]
    _sites_by_number: dict[str, Site]
    _staff_numbers: frozenset[str]
