"""A case's assignee, its reply templates and the customer's earlier cases (issue 21), on moto through the
Chalice test client: ``POST /api/cases/{id}/assign``, ``GET /api/cases?assignee=``, ``GET /api/cases/{id}``."""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth, drain, post_sms, twilio_params

CUSTOMER = "+447700900643"


def _post(client, path, body):
    return client.http.post(path, headers={**auth(), "Content-Type": "application/json"}, body=json.dumps(body))


def _case_of(client, message_id):
    for status in ("open", "acknowledged", "resolved"):
        for case in client.http.get(f"/api/cases?status={status}", headers=auth()).json_body["items"]:
            if case["message_id"] == message_id:
                return case
    raise AssertionError(f"no case for {message_id}")


@pytest.fixture()
def two_cases(client):
    """One customer, two sites: a case each (a message about another site opens its own case)."""
    post_sms(client, twilio_params(body="L8 the driver is drunk and dangerous", sid="SM" + "a1" * 16, frm=CUSTOMER))
    drain()
    post_sms(client, twilio_params(body="OPERA vendeuse très impolie, inadmissible", sid="SM" + "a2" * 16,
                                   frm=CUSTOMER, to="+33639980101"))
    drain()
    return _case_of(client, "twilio-SM" + "a1" * 16), _case_of(client, "twilio-SM" + "a2" * 16)


def test_a_case_is_assigned_reassigned_and_listed_by_its_assignee(client, two_cases):
    first, second = two_cases
    done = _post(client, f"/api/cases/{first['id']}/assign", {"to": "Priya Shah", "by": "Sam"})
    assert done.status_code == 200
    assert done.json_body["assignee"] == "Priya Shah" and done.json_body["assigned_by"] == "Sam [operator]"
    again = _post(client, f"/api/cases/{first['id']}/assign", {"to": "Lou Martin"}).json_body
    assert again["assignee"] == "Lou Martin" and again["assigned_by"] == "operator"
    listed = client.http.get("/api/cases?assignee=LOU%20MARTIN", headers=auth()).json_body["items"]
    assert [c["id"] for c in listed] == [first["id"]]
    nobody = client.http.get("/api/cases?assignee=-", headers=auth()).json_body["items"]
    assert [c["id"] for c in nobody] == [second["id"]]
    assert client.http.get(f"/api/cases/{first['id']}", headers=auth()).json_body["assignee"] == "Lou Martin"


def test_assignment_refusals_say_why(client, two_cases):
    first, _ = two_cases
    assert _post(client, f"/api/cases/{first['id']}/assign", {"to": ""}).status_code == 400
    assert _post(client, f"/api/cases/{first['id']}/assign", {"to": "07700 900123"}).status_code == 400
    assert _post(client, f"/api/cases/{first['id']}/assign", {"to": "Sam", "extra": 1}).status_code == 400
    assert _post(client, "/api/cases/NOSUCH00/assign", {"to": "Sam"}).status_code == 404
    assert _post(client, f"/api/cases/{first['id']}/resolve", {"by": "Sam"}).status_code == 200
    refused = _post(client, f"/api/cases/{first['id']}/assign", {"to": "Sam"})
    assert refused.status_code == 409 and "resolved" in refused.json_body["error"]


def test_a_complaint_about_the_staff_on_duty_is_never_assigned_to_them(client, svc):
    svc.store.cases.put_case({"id": "ABOUTDAV", "status": "open", "site": "line-8", "topic": "staff",
                              "nature": "complaint", "urgency": "high", "created_at": "2026-12-04T08:00:00.000Z",
                              "about": {"names": ["Dave Smith"], "numbers": ["+447700900301"]}})
    refused = _post(client, "/api/cases/ABOUTDAV/assign", {"to": "dave"})
    assert refused.status_code == 403 and "complaint about dave" in refused.json_body["error"]
    assert _post(client, "/api/cases/ABOUTDAV/assign", {"to": "Priya Shah"}).status_code == 200


def test_the_case_shows_the_customer_s_other_cases_and_forgets_them_with_the_customer(client, two_cases):
    first, second = two_cases
    history = client.http.get(f"/api/cases/{second['id']}", headers=auth()).json_body["history"]
    assert [(h["id"], h["site"], h["status"]) for h in history] == [(first["id"], "line-8", "open")]
    assert set(history[0]) == {"id", "site", "topic", "nature", "urgency", "status", "created_at", "resolved_at"}
    earlier = client.http.get(f"/api/cases/{first['id']}", headers=auth()).json_body["history"]
    assert [h["id"] for h in earlier] == [second["id"]]  # any site, either way
    erased = client.http.delete(f"/api/customers/{CUSTOMER.replace('+', '%2B')}", headers=auth())
    assert erased.status_code == 200 and erased.json_body["erased"].get("history") == 2
    assert client.http.get(f"/api/cases/{first['id']}", headers=auth()).status_code == 404


def test_templates_come_in_the_customer_s_language_with_the_site_and_promise_filled_in(client, two_cases):
    first, second = two_cases
    english = client.http.get(f"/api/cases/{first['id']}", headers=auth()).json_body["templates"]
    french = client.http.get(f"/api/cases/{second['id']}", headers=auth()).json_body["templates"]
    assert [t["id"] for t in english] == [t["id"] for t in french] and len(english) >= 3
    sorry = next(t for t in english if t["id"] == "sorry-on-it")
    assert sorry["text"] == ("Hello, this is {name} from line 8. Sorry about this: I'm looking into it now and "
                             "will come back to you within 10 minutes.")  # urgent: the call-back promise
    desole = next(t for t in french if t["id"] == "sorry-on-it")
    assert desole["title"] == "Désolé, on s'en occupe" and "magasin Opera" in desole["text"]
    assert "{name}" in desole["text"] and "{site}" not in desole["text"] and "{delay}" not in desole["text"]
