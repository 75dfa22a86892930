"""Staff answer a customer by SMS (issue 21): "R 4821 Sorry, I'm coming to your seat" from a staff phone.

The text is relayed to the customer of case 4821 from the site's number, through the same checks and the same
queue as a reply from the dashboard (:class:`chalicelib.replying.ConversationService`): nothing is sent when the
customer opted out or was erased, the text is empty, too long or holds a forbidden word, or the case had its
hourly share of replies. Only staff who may act on the case by SMS relay (alerted about it, the site's staff,
central care); a complaint about the staff on duty cannot be answered by them. The customer never sees a staff
number, and the answer to staff never gives the customer's number: the reply is recorded with a name for the
sender's role, never their number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.cases import is_about, may_act
from chalicelib.clock import parse_time, utcnow
from chalicelib.configuration import Config
from chalicelib.errors import ApiError
from chalicelib.i18n import reader_language, t
from chalicelib.keywords import StaffCommand
from chalicelib.observability import logger as log
from chalicelib.ports import Stores

RELAY_MARK_SECONDS = 7 * 86400  # a staff SMS redelivered within a week relays nothing more


def sender_name(config: Config, number: str, case: dict[str, Any]) -> str:
    """Who relayed, as the conversation shows it: a role at a site, never a number (nor five digits in a row,
    which a reply's author may not hold: a site named "Gare 75001" is written "Gare 7500…")."""
    site = config.site(case.get("site"))
    name = re.sub(r"\d{5,}", lambda m: m.group()[:4] + "…", site.name) if site else ""
    if site and number in site.staff_sms:
        return f"{config.site_kind(site).staff.en.capitalize()}, {name} (by SMS)"
    if site and number in site.manager_sms:
        return f"Manager, {name} (by SMS)"
    if number in config.deployment.care_sms:
        return "Customer care (by SMS)"
    return "Staff (by SMS)"


class StaffRelay:
    """Carries out "R <code> <text>" from a staff number; the answer to text back to them."""

    def __init__(self, *, config: Config, store: Stores, replies: Callable[[], Any],
                 now: Callable[[], datetime] = utcnow):
        self._config = config
        self._store = store
        self._replies = replies
        self._now = now

    def relay(self, number: str, command: StaffCommand, message_id: str | None = None) -> str:
        """``message_id``: the staff SMS's own id; a redelivery of it (Twilio's retry, End User Messaging's
        event run again) relays nothing more."""
        code = command.code
        case_id = self._store.cases.case_for_code(code, int(self._now().timestamp()))
        case = self._store.cases.get_case(case_id) if case_id else None
        lang = reader_language(self._config, number, case.get("site") if case else None)
        if case is None:
            return t("staff.no_case", lang, code=code)
        if is_about(case, number):
            return t("staff.relay_about_you", lang, code=code)
        if not may_act(self._config, number, case):
            return t("staff.not_yours", lang, code=code)
        once = self._store.offers
        expires = int(self._now().timestamp()) + RELAY_MARK_SECONDS
        if message_id and not once.claim_marker("relay", message_id, expires_at=expires):
            return t("staff.relay_taken", lang, code=code)
        try:
            message = self._replies().reply(case["id"], command.text, sender_name(self._config, number, case),
                                            via="sms")
        except ApiError as exc:
            if message_id:
                once.release_marker("relay", message_id)
            log.info("staff relay refused", extra={"case_id": case["id"], "status": exc.status})
            return t("staff.relay_refused", lang, code=code, reason=exc.message)[:300]
        except Exception:
            if message_id:
                once.release_marker("relay", message_id)
            raise
        if message.scheduled_for:
            site = self._config.site(case.get("site"))
            local = parse_time(message.scheduled_for).astimezone(ZoneInfo(site.timezone if site else "UTC"))
            return t("staff.relay_quiet", lang, code=code, time=f"{local:%H:%M}", segments=message.segments)
        return t("staff.relay_sent", lang, code=code, segments=message.segments)
