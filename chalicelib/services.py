"""Lazy wiring: AWS clients and adapters are built on first use, from the environment.

Nothing here touches AWS at import time (moto, the Chalice test client and cold
start all depend on it). ``reset()`` forgets everything, for tests.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import Any

from chalicelib import aws_clients, channels, webhook_url
from chalicelib.cases import CaseService
from chalicelib.channels import LogReplySender, ReplySender
from chalicelib.classification import Classifier
from chalicelib.config_loader import get_config
from chalicelib.configuration import Config
from chalicelib.ingest import IngestService
from chalicelib.jobs import JobQueue
from chalicelib.notify import EmailAlerts, SmsAlerts
from chalicelib.ports import Stores
from chalicelib.secrets import get_secret
from chalicelib.worker import Worker


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


class Services:
    """Builds every client, adapter and service of one process on first use: once, except what reads a
    secret that may rotate (read per call through the secrets cache). The ingest, survey and worker
    services, built once, keep the customer-key secret they were built with until the next cold start."""

    @staticmethod
    def client(service: str) -> Any:
        return aws_clients.client(service)  # timeouts below the function's, standard retries

    @cached_property
    def live(self) -> tuple[int | None, Config]:
        """The configuration in force and its version: the latest published (DynamoDB, issue 22), else the
        shipped files (version None: nothing published yet, or VOIX_LIVE_CONFIG=false, or DynamoDB down)."""
        if env("VOIX_LIVE_CONFIG", "true").lower() == "false" or not os.environ.get("TABLE_NAME"):
            return None, get_config()
        from chalicelib.errors import Unavailable
        from chalicelib.live_config import InvalidConfig, build

        try:
            head = self.store.config.head()
            if head is None:
                return None, get_config()
            return int(head["version"]), build(self.store.config.section_data(head["sections"]))
        except Unavailable as exc:  # keep serving with the files rather than not at all (read again next check)
            from chalicelib.observability import logger

            logger.warning("live configuration not read, the shipped files serve: %s", exc)
            return None, get_config()
        except InvalidConfig as exc:  # that version no longer validates: the files serve until the next one
            from chalicelib.observability import logger

            logger.warning("live configuration version %s refused, the shipped files serve: %s", head["version"], exc)
            return int(head["version"]), get_config()

    @cached_property
    def config(self) -> Config:
        return self.live[1]

    def renewed(self) -> Services:
        """A new set of services for a new configuration version: the clients and adapters carried over."""
        fresh = Services()
        for kept in ("store", "jobs", "sqs", "dead_letters", "incident_store"):
            if kept in self.__dict__:
                fresh.__dict__[kept] = self.__dict__[kept]
        return fresh

    @cached_property
    def classifier(self) -> Classifier:
        return Classifier(self.config)

    @cached_property
    def store(self) -> Stores:
        """The storage adapters, one per aggregate, over one DynamoDB client."""
        from chalicelib.storage import dynamo_stores

        table = env("TABLE_NAME")
        return dynamo_stores(self.client("dynamodb"), table, env("COUNTERS_TABLE", f"{table}-counters"))

    @cached_property
    def jobs(self) -> JobQueue:
        return JobQueue(self.client("sqs"), env("JOBS_QUEUE_URL", "") or env("JOBS_QUEUE"))

    @cached_property
    def sqs(self) -> Any:
        return self.jobs._sqs

    @cached_property
    def dead_letters(self) -> JobQueue:
        """The jobs' dead-letter queue (JOBS_DLQ, else the template's ``<JOBS_QUEUE>-dlq``): read, never sent to."""
        return JobQueue(self.sqs, env("JOBS_DLQ", f"{env('JOBS_QUEUE')}-dlq"))

    def queue_status(self) -> dict[str, Any]:
        """Depth of the jobs queue and of its dead-letter queue (alerts that gave up); each queue's URL is looked
        up once per process, not on every request."""
        from chalicelib.jobs import queue_depth

        return {"jobs": queue_depth(self.sqs, self.jobs.url),
                "dead_letter": queue_depth(self.sqs, self.dead_letters.url)}

    @property  # get_secret caches SSM reads for five minutes; the services built once keep the first value
    def customer_secret(self) -> bytes:
        return get_secret("CUSTOMER_KEY_SECRET").encode()

    @property
    def operator_token_sha256(self) -> str:
        return get_secret("OPERATOR_TOKEN_SHA256")

    @property
    def audit_token_sha256(self) -> str:
        return get_secret("AUDIT_TOKEN_SHA256")

    @property
    def twilio_auth_token(self) -> str:
        return get_secret("TWILIO_AUTH_TOKEN")

    @property
    def twilio_account_sid(self) -> str:
        """The Twilio account (``AC…``) whose requests are taken; any other is refused."""
        return get_secret("TWILIO_ACCOUNT_SID")

    @property
    def twilio_webhook_url(self) -> str:
        """The URL Twilio signs: TWILIO_WEBHOOK_URL (required outside the local stack)."""
        return webhook_url.configured()

    @property
    def twilio_status_url(self) -> str:
        """The URL Twilio signs its status callbacks for (before ``?ref=``)."""
        return webhook_url.status_url()

    def webhook_url_for(self, headers: dict[str, str], context: dict[str, Any], path: str) -> str:
        """The URL Twilio signed for this request (derived from the request on the local stack only)."""
        return webhook_url.for_request(headers, context, path)

    @property
    def link_key(self) -> bytes:
        return get_secret("LINK_SIGNING_KEY").encode()

    @property
    def public_api_url(self) -> str:
        """Where the acknowledge links point: the API's public base URL."""
        return env("PUBLIC_API_URL", self.twilio_webhook_url.rsplit("/sms/", 1)[0]).rstrip("/")

    def ack_url(self, case_id: str, recipient_id: str) -> str:
        from chalicelib import links

        return f"{self.public_api_url}/ack/{links.sign(self.link_key, case_id, recipient_id)}"

    def unsubscribe_url(self, address: str) -> str:
        """The one-click unsubscribe link (RFC 8058) of a reply by e-mail to ``address``: it names the customer
        by their key, never their address (chalicelib/unsubscribe.py)."""
        from chalicelib.clock import utcnow
        from chalicelib.phone import customer_key
        from chalicelib.unsubscribe import token

        signed = token(self.link_key, customer_key(address, self.customer_secret), utcnow())
        return f"{self.public_api_url}/unsubscribe/{signed}"

    @property  # per request, as the acknowledge page
    def unsubscribe_page(self) -> Any:
        from chalicelib.clock import utcnow
        from chalicelib.unsubscribe import UnsubscribePage, opt_out

        days = int(env("RETENTION_DAYS", "396"))
        return UnsubscribePage(link_key=self.link_key, now=utcnow,
                               opt_out=lambda key, now: opt_out(self.store, key, now, days))

    @property  # per request: the link key is read through get_secret's five-minute cache (rotation)
    def ack_page(self) -> Any:
        from chalicelib.ack_page import AckPage
        from chalicelib.i18n import reader_language

        config = self.config
        return AckPage(link_key=self.link_key, find_case=self.store.cases.get_case, acknowledge=self.cases.act,
                       forbidden_words=config.deployment.forbidden_words,
                       reader=lambda case, to: reader_language(config, to, case.get("site")))

    @cached_property
    def digest(self) -> Any:
        from chalicelib.digest import DigestService

        return DigestService(config=self.config, markers=self.store.offers, api=self.api,
                             email=EmailAlerts(self.client("sesv2"), self.config.deployment.alert_from_email))

    @cached_property
    def surveys(self) -> Any:
        from chalicelib.surveys import SurveyService

        return SurveyService(config=self.config, surveys=self.store.surveys, customers=self.store.customers,
                             quotas=self.store.offers, jobs=self.jobs, sender=self.reply_sender,
                             secret=self.customer_secret)

    @cached_property
    def cases(self) -> CaseService:
        return CaseService(config=self.config, cases=self.store.cases, counters=self.store.counters, jobs=self.jobs)

    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(
            config=self.config, classifier=self.classifier, store=self.store, jobs=self.jobs,
            customer_secret=self.customer_secret, retention_days=int(env("RETENTION_DAYS", "396")),
            cases=self.cases, offers=self.offers, surveys=self.surveys, senders=self.sender, relay=self.relay,
        )

    @cached_property
    def relay(self) -> Any:
        """ "R <code> <text>" from a staff phone: relayed to the case's customer as a dashboard reply is."""
        from chalicelib.relay import StaffRelay

        return StaffRelay(config=self.config, store=self.store, replies=lambda: self.conversations)

    @cached_property
    def reply_sender(self) -> ReplySender:
        """How texts go out by API (survey questions, replies on the outbound channel): REPLY_SENDER names the
        channel, or ``log`` (local stack, tests) to log every text sent by API instead."""
        outbound = env("REPLY_SENDER", "eum")
        if outbound == "log":
            return LogReplySender()
        return self._channel_sender(outbound)

    def sender(self, channel: str) -> ReplySender:
        """How a reply goes out on ``channel``: the reply sender for the outbound channel (every channel with
        REPLY_SENDER=log, but e-mail: moto's SES records it), else that channel's own, built once."""
        if env("REPLY_SENDER", "eum") in ("log", channel) and channels.get(channel).logs_locally:
            return self.reply_sender
        return self._channel_sender(channel)

    @cached_property
    def _senders(self) -> dict[str, ReplySender]:
        return {}

    def _channel_sender(self, name: str) -> ReplySender:
        if name not in self._senders:
            build = channels.get(name).sender
            if build is None:
                raise ValueError(f"channel {name} replies in its webhook's answer: it has no sender")
            self._senders[name] = build(self.client)
        return self._senders[name]

    def staff_sender(self, channel: str) -> ReplySender:
        """How a staff reply goes out on ``channel``: the channel's own API where it answers in its webhook
        (Twilio's Messages API, at TWILIO_API_URL), else as the automatic replies do."""
        found = channels.get(channel)
        if found.outbound is None:
            return self.sender(channel)
        key = f"{channel}:staff"
        if key not in self._senders:
            self._senders[key] = found.outbound(self.client)
        return self._senders[key]

    @cached_property
    def conversations(self) -> Any:
        """Staff replies to a case's customer: checked, queued, sent once, their delivery tracked."""
        from chalicelib.replying import ConversationService

        return ConversationService(config=self.config, store=self.store, jobs=self.jobs, secret=self.customer_secret,
                                   senders=self.staff_sender)

    @cached_property
    def worker(self) -> Worker:
        return Worker(
            config=self.config, store=self.store, jobs=self.jobs,
            sms=SmsAlerts(self.client("sns"), os.environ.get("SMS_SENDER_ID")),
            email=EmailAlerts(self.client("sesv2"), self.config.deployment.alert_from_email),
            max_receives=int(env("MAX_RECEIVES", "5")), ack_url=self.ack_url, surveys=self.surveys,
            secret=self.customer_secret, replies=self.conversations, incident_alerts=self.incident_alerts,
        )

    @cached_property
    def incident_store(self) -> Any:
        from chalicelib.storage.incidents import IncidentStore

        table = env("TABLE_NAME")
        return IncidentStore(self.client("dynamodb"), table, env("COUNTERS_TABLE", f"{table}-counters"))

    @cached_property
    def incidents(self) -> Any:
        """Emerging issues: the detector the scheduled job runs (chalicelib.incidents)."""
        from chalicelib.incident_examples import examples_from
        from chalicelib.incidents import IncidentDetector

        return IncidentDetector(config=self.config, incidents=self.incident_store, jobs=self.jobs,
                                examples=examples_from(self.store.messages, self.config))

    @cached_property
    def incident_alerts(self) -> Any:
        from chalicelib.incident_alerts import IncidentAlerts
        from chalicelib.incident_examples import example_reader

        return IncidentAlerts(config=self.config, incidents=self.incident_store,
                              examples=example_reader(self.store.messages, self.config),
                              sms=SmsAlerts(self.client("sns"), os.environ.get("SMS_SENDER_ID")),
                              email=EmailAlerts(self.client("sesv2"), self.config.deployment.alert_from_email))

    @cached_property
    def incidents_api(self) -> Any:
        from chalicelib.api.incidents import IncidentsApi
        from chalicelib.incident_examples import example_reader

        return IncidentsApi(incidents=self.incident_store, examples=example_reader(self.store.messages, self.config))

    @cached_property
    def api(self) -> Any:
        from chalicelib.api import OperatorApi

        return OperatorApi(config=self.config, store=self.store, cases=self.cases, offers=self.offers,
                           surveys=lambda: self.surveys,  # on a survey route only (the digest's API needs none)
                           replies=lambda: self.conversations)

    @cached_property
    def offers(self) -> Any:
        """Goodwill offers issued by staff through the API, within their budgets."""
        from chalicelib.offers import OfferService

        return OfferService(config=self.config, offers=self.store.offers)


_services: Services | None = None
_LOCK = threading.Lock()  # one thread builds or renews the services (the local stack serves threads)
_checked = 0.0  # when this process last asked which configuration version is the latest (time.monotonic)


def check_seconds() -> float:
    """How often a warm process asks for the latest configuration version (one small GetItem): a publish is
    in force everywhere within this many seconds, plus the request in flight (default 30)."""
    return float(os.environ.get("VOIX_CONFIG_CHECK_SECONDS", "30"))


def services() -> Services:
    """The services of this process, renewed when a newer configuration version was published (checked at
    most every ``check_seconds()``, never per request)."""
    global _services, _checked
    import time

    now = time.monotonic()
    if _services is None:
        with _LOCK:
            if _services is None:
                _services, _checked = Services(), now
    elif now - _checked >= check_seconds() and "live" in _services.__dict__ and \
            env("VOIX_LIVE_CONFIG", "true").lower() != "false" and _LOCK.acquire(blocking=False):
        try:
            _renew_if_published(now)
        finally:
            _LOCK.release()
    return _services


def _renew_if_published(now: float) -> None:
    global _services, _checked
    _checked = now
    current = _services.live[0]
    try:
        latest = _services.store.config.head_version() if os.environ.get("TABLE_NAME") else None
    except Exception as exc:  # DynamoDB down: keep the configuration in force
        from chalicelib.observability import logger

        logger.warning("configuration version not checked: %s", exc)
        latest = current
    if latest is not None and latest != current:
        _services = _services.renewed()


def reset() -> None:
    """Forget every client and adapter (tests, or after the environment changed)."""
    global _services
    _services = None
