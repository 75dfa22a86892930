"""Staff answer the customer by SMS (issue 21): "R <code> <text>" from a staff phone is relayed as a dashboard
reply is, with the same checks; on the in-memory fakes. The stack test sends it through the signed webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.keywords import staff_command
from chalicelib.relay import StaffRelay, sender_name
from tests.test_conversation_rules import NOON, a_case, world  # noqa: F401  (the fixture)

DRIVER, STRANGER = "+447700900801", "+447700900999"


@pytest.fixture
def relay(world):  # noqa: F811
    world.store.cases.claim_code("4821", "CASE0001", now=int(NOON.timestamp()), until=2_000_000_000)
    return StaffRelay(config=world.config, store=world.store, replies=lambda: world.service, now=world.clock)


@pytest.mark.parametrize("text, code, words", [
    ("R 4821 Sorry, I'm coming to your seat", "4821", "Sorry, I'm coming to your seat"),
    ("r4821 on arrive", "4821", "on arrive"), ("REP #4821: Désolé", "4821", "Désolé"),
    ("Réponse 4821 - on s'en occupe", "4821", "on s'en occupe"), ("R 4821", "4821", ""),
])
def test_a_relay_is_read_with_its_words_as_typed(text, code, words):
    command = staff_command(text)
    assert (command.action, command.code, command.text) == ("reply", code, words)


@pytest.mark.parametrize("text", ["Really 4821 bad", "R 482 hi", "R 48210 hi", "R hi 4821", "Rude driver 4821"])
def test_what_is_not_a_relay_is_not_read_as_one(text):
    command = staff_command(text)
    assert command is None or command.action != "reply"


def test_a_relay_is_queued_as_a_reply_by_a_role_never_a_number(world, relay):  # noqa: F811
    answer = relay.relay(DRIVER, staff_command("R 4821 Sorry, I'm coming to your seat"))
    assert answer == "Voix: sent to the customer of case 4821 (1 SMS). Thank you."
    [(job, _)] = world.jobs.sent
    assert job["type"] == "reply" and job["case_id"] == "CASE0001"
    [message] = world.store.conversations.conversation("CASE0001")
    assert message.text == "Sorry, I'm coming to your seat" and message.direction == "out"
    assert message.author == "Driver, Coach line 8 Leeds–London (by SMS)"
    assert "7700" not in message.author and "7700" not in answer
    world.service.send("CASE0001", message.id)
    [sent] = world.sender.sent
    assert sent["origin"] == "+447700900008" and sent["text"] == "Sorry, I'm coming to your seat"  # from the site


def test_a_relay_is_refused_as_the_api_refuses_and_nothing_is_sent(world, relay):  # noqa: F811
    assert relay.relay(DRIVER, staff_command("R 4821")) == \
        "Voix: not sent to the customer of case 4821: the reply is empty"
    assert relay.relay(DRIVER, staff_command("R 9999 hello")) == "Voix: no case 9999. Check the code in the alert."
    assert relay.relay(STRANGER, staff_command("R 4821 hello")) == "Voix: case 4821 is not one of yours."
    world.store.customers.set_consent("cust-1", "opted_out", at="2026-12-01T11:59:00.000Z", source="sms",
                                      message_id="twilio-SMstop", expires_at=2_000_000_000)
    refused = relay.relay(DRIVER, staff_command("R 4821 hello"))
    assert refused == "Voix: not sent to the customer of case 4821: the customer opted out (STOP): no reply is sent"
    assert world.jobs.sent == [] and world.store.conversations.conversation("CASE0001") == []


def test_a_complaint_about_the_driver_is_not_his_to_answer(world, relay):  # noqa: F811
    world.store.cases.put_case(a_case("CASE0002", about={"names": ["Dave"], "numbers": [DRIVER]}))
    world.store.cases.claim_code("4822", "CASE0002", now=int(NOON.timestamp()), until=2_000_000_000)
    answer = relay.relay(DRIVER, staff_command("R 4822 it was not me"))
    assert "complaint about you" in answer and world.jobs.sent == []


def test_a_relay_in_quiet_hours_says_when_it_goes(world, relay):  # noqa: F811
    world.clock.now = NOON.replace(hour=22) + timedelta(minutes=1)  # 22:01 in London, December
    answer = relay.relay(DRIVER, staff_command("R 4821 We will look at it tomorrow"))
    assert answer == "Voix: quiet hours: your answer to case 4821 goes to the customer at 09:00 (1 SMS)."


def test_the_sender_is_named_by_role(world):  # noqa: F811
    case = {"site": "line-8"}
    assert sender_name(world.config, DRIVER, case) == "Driver, Coach line 8 Leeds–London (by SMS)"
    assert sender_name(world.config, STRANGER, case) == "Staff (by SMS)"
    assert sender_name(world.config, STRANGER, {"site": None}) == "Staff (by SMS)"


def test_a_redelivered_staff_sms_relays_nothing_more(world, relay):  # noqa: F811
    first = relay.relay(DRIVER, staff_command("R 4821 Coming now"), "twilio-SMstaff1")
    again = relay.relay(DRIVER, staff_command("R 4821 Coming now"), "twilio-SMstaff1")
    assert first.startswith("Voix: sent") and again == "Voix: your answer to case 4821 was taken already."
    assert len(world.jobs.sent) == 1 and len(world.store.conversations.conversation("CASE0001")) == 1
    refused = relay.relay(DRIVER, staff_command("R 4821"), "twilio-SMstaff2")  # refused: its mark is given back
    assert "empty" in refused and "empty" in relay.relay(DRIVER, staff_command("R 4821"), "twilio-SMstaff2")


def test_a_site_name_with_five_digits_still_names_the_sender(world):  # noqa: F811
    from chalicelib.replying import ReplyRefused  # noqa: F401  (the check the name must pass)

    site = world.config.site("line-8")
    renamed = world.config.model_copy(update={})
    object.__setattr__(site, "name", "Gare 75001 Paris")
    try:
        assert sender_name(renamed, DRIVER, {"site": "line-8"}) == "Driver, Gare 7500… Paris (by SMS)"
    finally:
        object.__setattr__(site, "name", "Coach line 8 Leeds–London")
