"""Outbound surveys after an interaction: NPS (0-10), CSAT (1-5), Customer Effort Score (1-7).

A survey has one to three questions, sent one at a time: each answer, texted back as a
bare number, is matched to the question the customer was last asked (one conversation
per number, open for the survey's window) and the next question goes out as the reply.
An out-of-range number gets the scale again; words are feedback as usual (and noted on
the conversation). A detractor gets the optional follow-up question at the end; their
free-text answer is recorded with the survey.

Sending respects consent (never to an opted-out number, nor to one whose opt-out was kept
through an erasure), a per-number frequency cap and the site's local quiet hours (the send
waits on the queue until they end); a send queued before its number was erased is dropped.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.channels import RecipientOptedOut
from chalicelib.clock import iso, parse_time, utcnow
from chalicelib.configuration import Config, Localised
from chalicelib.erasure import mark
from chalicelib.limits import rolling_quota
from chalicelib.observability import logger as log  # noqa: F401  (JSON, with the correlation id)
from chalicelib.observability import record_survey_answer
from chalicelib.phone import InvalidNumber, customer_key, normalise, region_of
from chalicelib.ports import Customers, Offers, Surveys
from chalicelib.sms_segments import plain, segments
from chalicelib.survey_scores import SCALES, in_range, is_detractor, out_of, score, score_of

MAX_NUMBERS = 10_000
THANKS = Localised(en="Thank you for your answers!", fr="Merci pour vos reponses !")
LATE_THANKS = Localised(en="Thank you! That survey has closed, but your answer is noted.",
                        fr="Merci ! Cette enquete est terminee, mais votre reponse est bien notee.")
LATE_SCALE = (0, 10)  # a late bare number is taken as an answer if it could answer any of the scales


# -- pure --------------------------------------------------------------------------------------
def quiet_delay(now: datetime, zone: str, start: int, end: int) -> int:
    """Seconds until the site's quiet hours end (0 when it is not quiet there)."""
    local = now.astimezone(ZoneInfo(zone))
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return 0
    until = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return int((until - local).total_seconds())


def numbers_from_csv(text: str) -> list[str]:
    """Numbers from a CSV: the ``number`` (or ``phone``) column, else the first column; header optional."""
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte...
        raise ValueError(f"numbers_csv is not readable CSV: {exc}") from exc
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(h) for h in ("number", "phone", "mobile") if h in header), None)
    if column is not None:
        rows = rows[1:]
    return [r[column or 0].strip() for r in rows if len(r) > (column or 0)]


# -- the API's input ------------------------------------------------------------------------------
MAX_TEXT_SEGMENTS = 2  # a survey question (or its follow-up) costs at most two SMS per customer


def _sms_text(text: Localised, what: str = "text") -> Localised:
    """Typographic punctuation made GSM-7 (a curly apostrophe would double the price), and a
    length check: every recipient pays for every segment."""
    out = {}
    for language in ("en", "fr"):
        value = plain(getattr(text, language)).strip()
        if not value:
            raise ValueError(f"{what} ({language}) is empty")
        if segments(value) > MAX_TEXT_SEGMENTS:
            raise ValueError(f"{what} ({language}) is {segments(value)} SMS long: at most {MAX_TEXT_SEGMENTS}")
        out[language] = value
    return Localised(**out)


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["nps", "csat", "ces"]
    text: Localised

    @field_validator("text")
    @classmethod
    def _fits(cls, text: Localised) -> Localised:
        return _sms_text(text, "question")


class SurveyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    questions: list[Question] = Field(min_length=1, max_length=3)
    follow_up: Localised | None = Field(default=None, description="Asked at the end to detractors")
    window_hours: int = Field(default=24, ge=1, le=168)
    numbers: list[str] = Field(default_factory=list, max_length=MAX_NUMBERS)
    numbers_csv: str | None = Field(default=None, max_length=400_000)
    created_by: str | None = Field(default=None, max_length=80)

    @field_validator("numbers")
    @classmethod
    def _strings(cls, numbers: list[str]) -> list[str]:
        return [n.strip() for n in numbers]

    @field_validator("follow_up")
    @classmethod
    def _follow_up_fits(cls, text: Localised | None) -> Localised | None:
        return None if text is None else _sms_text(text, "follow_up")

    @model_validator(mode="after")
    def _someone(self) -> SurveyRequest:
        if not self.numbers and not self.numbers_csv:
            raise ValueError("give numbers (a list) or numbers_csv (CSV text)")
        return self


@dataclass(frozen=True)
class Answer:
    reply: str


class SurveyService:
    """Outbound surveys (NPS, CSAT, CES): created for a list of numbers, sent outside quiet hours and
    within each number's cap, answered by SMS, reported per survey and per site."""

    def __init__(self, *, config: Config, surveys: Surveys, customers: Customers, quotas: Offers, jobs: Any = None,
                 sender: Any = None, secret: bytes = b"", now: Callable[[], datetime] = utcnow):
        self._config = config
        self._surveys = surveys
        self._customers = customers
        self._quotas = quotas  # the frequency cap and the once-per-customer marker
        self._jobs = jobs
        self._sender = sender
        self._secret = secret
        self._now = now

    # -- creating and sending ----------------------------------------------------------------------
    def create(self, request: SurveyRequest) -> dict[str, Any]:
        site = self._config.site(request.site)
        if site is None:
            raise ValueError(f"unknown site {request.site!r}")
        raw = list(request.numbers) + (numbers_from_csv(request.numbers_csv) if request.numbers_csv else [])
        if len(raw) > MAX_NUMBERS:
            raise ValueError(f"at most {MAX_NUMBERS} numbers per survey")
        # national numbers are read in the country of the site's own number (as inbound messages are)
        region = next(filter(None, map(region_of, [*site.numbers, *self._config.deployment.central_numbers])),
                      "FR" if site.language == "fr" else "GB")
        valid, rejected = [], []
        for number in raw:
            try:
                valid.append(normalise(number, region))
            except InvalidNumber:
                rejected.append(number[:40])
        valid = list(dict.fromkeys(valid))
        now = self._now()
        survey = {"id": uuid.uuid4().hex[:12].upper(), "site": site.id, "name": request.name,
                  "questions": [q.model_dump() for q in request.questions],
                  "follow_up": request.follow_up.model_dump() if request.follow_up else None,
                  "window_hours": request.window_hours, "created_at": iso(now), "created_by": request.created_by,
                  "recipients": len(valid), "ttl": int((now + timedelta(days=400)).timestamp())}
        self._surveys.put_survey(survey)
        keys = {customer_key(n, self._secret): n for n in valid}
        # the numbers wait only for their sends (held for quiet hours, retried, at most SQS's 14 days)
        self._surveys.put_recipients(survey["id"], keys, expires_at=int((now + timedelta(days=15)).timestamp()))
        self._jobs.send_many([{"type": "survey_send", "survey_id": survey["id"], "recipient": k} for k in keys])
        return {**survey, "queued": len(valid), "rejected": rejected}

    def send_one(self, survey_id: str, recipient: str) -> str:
        """The worker's side of one recipient (a customer key; a number in jobs queued before keys): consent,
        quiet hours, cap, then the first question."""
        survey = self._surveys.get_survey(survey_id)
        if survey is None:
            return "unknown_survey"
        if recipient.startswith("+"):
            to, key = recipient, customer_key(recipient, self._secret)
        else:
            to, key = self._surveys.recipient_number(survey_id, recipient), recipient
        outcome = self._send_first(survey, to, key)
        if outcome != "quiet_hours" and not recipient.startswith("+"):
            self._surveys.forget_recipient(survey_id, key)  # done with: the number goes
        return outcome

    def _send_first(self, survey: dict[str, Any], to: str | None, key: str) -> str:
        survey_id = survey["id"]
        site = self._config.site(survey["site"])
        erased = self._customers.tombstone(mark(self._secret, "customer", key))
        if to is None and not erased:  # sent or skipped already (a redelivered job), or its number expired
            return "already_sent"
        if to is None or (erased and str(erased.get("erased_at") or "") >= survey["created_at"]):
            # erased after this survey was asked for (held for quiet hours, or still queued): cancelled
            self._surveys.survey_add(survey_id, {"skipped_erased": 1})
            return "erased"
        consent = self._customers.consent(key)
        if (consent and consent.get("status") == "opted_out") or (
                consent is None and self._customers.suppressed(mark(self._secret, "opt-out", key))):
            self._surveys.survey_add(survey_id, {"skipped_opted_out": 1})
            return "opted_out"
        deployment = self._config.deployment
        now = self._now()
        delay = quiet_delay(now, site.timezone if site else "UTC", deployment.quiet_hours_start,
                            deployment.quiet_hours_end)
        if delay:
            self._jobs.send({"type": "survey_send", "survey_id": survey_id, "recipient": key}, delay_seconds=delay)
            return "quiet_hours"
        marker = f"{survey_id}#{key}"
        if not self._quotas.claim_marker("survey_sent", marker, expires_at=survey["ttl"], customer_key=key):
            return "already_sent"
        quota, previous = rolling_quota(f"survey#{key}", deployment.survey_cap_days, now.timestamp())
        limit = deployment.survey_cap - self._quotas.quota_used(previous)
        kept = max(int(survey["ttl"]), int(now.timestamp()) + (2 * deployment.survey_cap_days + 1) * 86_400)
        if not self._quotas.take_quota(quota, limit, kept, customer_key=key):
            self._surveys.survey_add(survey_id, {"skipped_cap": 1})
            return "cap"
        language = site.language if site else deployment.default_language
        self._surveys.put_conversation(key, {
            "survey_id": survey_id, "site": survey["site"], "step": 0, "language": language, "answers": {},
            "detractor": False, "sent_at": iso(now),
            "expires_at": iso(now + timedelta(hours=int(survey["window_hours"]))),
            "ttl": int((now + timedelta(days=30)).timestamp())})
        origin = (site.numbers or deployment.central_numbers or [""])[0] if site else deployment.central_numbers[0]
        try:
            self._sender.send(to=to, origin=origin, text=Localised(**survey["questions"][0]["text"]).get(language),
                              reference=f"survey-{survey_id}")
        except RecipientOptedOut:  # opted out at the carrier: no question went out, none is awaited
            self._surveys.end_conversation(key)
            self._quotas.give_back_quota(quota)
            self._surveys.survey_add(survey_id, {"skipped_opted_out": 1})
            return "opted_out"
        except Exception:
            self._surveys.end_conversation(key)  # no question went out: a bare number is not an answer
            self._quotas.release_marker("survey_sent", marker)
            self._quotas.give_back_quota(quota)
            raise
        self._surveys.survey_add(survey_id, {"sent": 1})
        return "sent"

    # -- answers -----------------------------------------------------------------------------------
    def answer(self, from_number: str, text: str, message_id: str | None = None) -> Answer | None:
        """A bare number from a customer in a survey conversation: record it, return the reply.

        None when it is not an answer (no open conversation, or it is over): feedback as usual.
        A message delivered again (same ``message_id``) gets the reply it had, and is not
        recorded a second time nor taken as the answer to the next question.
        """
        value = score_of(text)
        if value is None:
            return None
        key = customer_key(from_number, self._secret)
        conversation = self._surveys.get_conversation(key)
        now = self._now()
        if not conversation:
            return None
        language = conversation.get("language", "en")
        answered = next((int(entry.partition(":")[0]) for entry in conversation.get("answered") or ()
                         if message_id and entry.partition(":")[2] == message_id), None)
        if answered is not None:
            survey = self._surveys.get_survey(conversation["survey_id"])
            if survey is None:
                return Answer(THANKS.get(language))
            return self._reply_after(survey, answered, language, bool(conversation.get("follow_up_at")))
        if parse_time(conversation["expires_at"]) < now:
            return self._late(key, conversation, value, text, message_id, now)
        survey = self._surveys.get_survey(conversation["survey_id"])
        step = int(conversation["step"])
        if survey is None or not 0 <= step < len(survey["questions"]):
            return None
        kind = survey["questions"][step]["kind"]
        if not in_range(kind, value) or out_of(text) not in (None, SCALES[kind][1]):  # "4 out of 5" to a 0-10
            low, high = SCALES[kind]
            return Answer(f"Please reply with a number from {low} to {high}." if language != "fr"
                          else f"Merci de repondre par un nombre de {low} a {high}.")
        detractor = bool(conversation.get("detractor")) or is_detractor(kind, value)
        last = step + 1 == len(survey["questions"])
        follow = bool(last and detractor and survey.get("follow_up"))
        if not self._surveys.advance_conversation(key, step=step, value=value, detractor=detractor,
                                                  ended=last and not follow, message_id=message_id,
                                                  follow_up_at=iso(now) if follow else None):
            return Answer(THANKS.get(language))  # the same answer delivered twice at once: counted once
        self._surveys.survey_add(survey["id"], {f"q{step}_n": 1, f"q{step}_v{value}": 1})
        record_survey_answer(survey["site"], kind, value)
        return self._reply_after(survey, step, language, follow)

    def _late(self, key: str, conversation: dict[str, Any], value: int, text: str, message_id: str | None,
              now: datetime) -> Answer | None:
        """A bare score after the survey closed, from a number surveyed in the last
        ``survey_late_answer_days`` days: a late answer to that survey (counted on it once per
        message, kept with the conversation), thanked; not feedback, so no case and no alert."""
        days = self._config.deployment.survey_late_answer_days
        sent = conversation.get("sent_at")
        if not days or not sent or now - parse_time(sent) > timedelta(days=days):
            return None
        if not LATE_SCALE[0] <= value <= LATE_SCALE[1]:
            return None
        survey = self._surveys.get_survey(conversation["survey_id"])
        if survey is None:
            return None
        if self._surveys.add_conversation_text(key, message_id or f"late-{iso(now)}",
                                               f"late answer: {text.strip()}", end=False):
            self._surveys.survey_add(survey["id"], {"late_answers": 1, f"late_v{value}": 1})
        return Answer(LATE_THANKS.get(conversation.get("language", "en")))

    @staticmethod
    def _reply_after(survey: dict[str, Any], step: int, language: str, follow: bool) -> Answer:
        """What the customer is told once question ``step`` is answered: the next question, the follow-up or thanks."""
        if step + 1 < len(survey["questions"]):
            return Answer(Localised(**survey["questions"][step + 1]["text"]).get(language))
        if follow and survey.get("follow_up"):
            return Answer(Localised(**survey["follow_up"]).get(language))
        return Answer(THANKS.get(language))

    def note_text(self, customer: str, message_id: str, text: str, received_at: str) -> bool:
        """A worded message from a customer in a conversation: the follow-up's answer (if written after
        the follow-up was asked: the worker may see it late), or a comment. Kept and counted once per
        message on its own (the store refuses a message it took in before): a retried job may call it again."""
        conversation = self._surveys.get_conversation(customer)
        if not conversation or parse_time(conversation["expires_at"]) < self._now():
            return False
        survey = self._surveys.get_survey(conversation["survey_id"])
        if survey is None:
            return False
        awaiting_follow_up = bool(conversation.get("follow_up_at")) and received_at >= conversation["follow_up_at"]
        if not self._surveys.add_conversation_text(customer, message_id, text[:500],
                                                   end=bool(awaiting_follow_up)):
            return False
        self._surveys.survey_add(survey["id"], {"follow_ups" if awaiting_follow_up else "text_replies": 1})
        return True

    # -- reports -----------------------------------------------------------------------------------
    def report(self, survey: dict[str, Any]) -> dict[str, Any]:
        stats = survey.get("stats", {})
        sent = int(stats.get("sent", 0))
        questions = []
        for i, q in enumerate(survey["questions"]):
            low, high = SCALES[q["kind"]]
            distribution = {v: int(stats.get(f"q{i}_v{v}", 0)) for v in range(low, high + 1)}
            questions.append({"kind": q["kind"], "text": q["text"], "distribution": distribution,
                              **score(q["kind"], distribution)})
        answered = questions[0]["n"] if questions else 0
        return {"id": survey["id"], "name": survey["name"], "site": survey["site"],
                "created_at": survey["created_at"], "recipients": survey.get("recipients", 0), "sent": sent,
                "response_rate": round(answered / sent, 3) if sent else None,
                "skipped": {"opted_out": int(stats.get("skipped_opted_out", 0)),
                            "frequency_cap": int(stats.get("skipped_cap", 0))},
                "follow_ups": int(stats.get("follow_ups", 0)), "text_replies": int(stats.get("text_replies", 0)),
                "late_answers": int(stats.get("late_answers", 0)),
                "held": self.held(survey),
                "questions": questions}

    def held(self, survey: dict[str, Any]) -> dict[str, Any] | None:
        """The sends not yet made while the site is in its quiet hours: held until they end (in
        the site's local time), or None when nothing is held."""
        stats = survey.get("stats", {})
        done = sum(int(stats.get(k, 0)) for k in ("sent", "skipped_opted_out", "skipped_cap", "skipped_erased"))
        waiting = int(survey.get("recipients", 0)) - done
        site = self._config.site(survey["site"])
        zone = site.timezone if site else "UTC"
        deployment = self._config.deployment
        now = self._now()
        delay = quiet_delay(now, zone, deployment.quiet_hours_start, deployment.quiet_hours_end)
        if waiting <= 0 or not delay:
            return None
        # quiet hours end on the hour: the delay, counted in whole seconds, is rounded up to it
        until = (now + timedelta(seconds=delay + 59)).replace(second=0, microsecond=0).astimezone(ZoneInfo(zone))
        return {"count": waiting, "reason": "quiet_hours", "until": until.isoformat(), "timezone": zone,
                "until_local": until.strftime("%H:%M")}

    def site_report(self, site: str) -> dict[str, Any]:
        reports = [self.report(s) for s in self._surveys.surveys_of_site(site)]
        by_kind: dict[str, dict[int, int]] = {}
        sent = answered = 0
        for r in reports:
            sent += r["sent"]
            answered += r["questions"][0]["n"]
            for q in r["questions"]:
                merged = by_kind.setdefault(q["kind"], {})
                for v, c in q["distribution"].items():
                    merged[v] = merged.get(v, 0) + c
        return {"site": site, "surveys": reports, "sent": sent,
                "held": sum(r["held"]["count"] for r in reports if r["held"]),
                "response_rate": round(answered / sent, 3) if sent else None,
                "scores": {k: {"distribution": d, **score(k, d)} for k, d in sorted(by_kind.items())}}
