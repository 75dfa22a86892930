"""The wiring of ``chalicelib/services.py``: each service is built once per process and handed to what uses it,
never rebuilt per message or per request, and nothing is built (or no secret read) where it is not needed."""

from __future__ import annotations

from xml.etree import ElementTree

from chalicelib import services as services_module
from chalicelib.offers import OfferService
from tests.conftest import auth, post_sms, twilio_params

CHURN = "je vais voir ailleurs, jamais de vendeur dispo"  # a store customer about to leave: the offer rule


def test_the_webhook_issues_every_offer_through_the_one_offer_service(client, monkeypatch):
    built = []
    original = OfferService.__init__

    def counting(self, **kwargs):
        built.append(self)
        original(self, **kwargs)

    monkeypatch.setattr(OfferService, "__init__", counting)
    for n, customer in enumerate(("+33612345678", "+33612345679", "+33612345670")):
        response = post_sms(client, twilio_params(CHURN, sid=f"SM{n:032d}", to="+33639980101", From=customer))
        assert "code V" in ElementTree.fromstring(response.body).find("Message").text  # each got an offer
    svc = services_module.services()
    assert built == [svc.offers] and svc.ingest._offers is svc.offers  # the API's too: one per process


def test_the_survey_routes_use_the_one_survey_service_built_on_their_first_call(client, monkeypatch):
    # GIVEN a function that may not read the customer-key secret (the digest's and the metrics' read none)
    monkeypatch.delenv("CUSTOMER_KEY_SECRET")
    svc = services_module.services()
    # WHEN the operator API serves other routes, and the digest (which holds the API) is built
    assert client.http.get("/api/metrics", headers=auth()).status_code == 200
    assert svc.digest is not None
    # THEN no survey service was built: building one reads that secret
    assert "surveys" not in vars(svc)
    monkeypatch.setenv("CUSTOMER_KEY_SECRET", "test-customer-key-secret")
    assert client.http.get("/api/surveys?site=line-8", headers=auth()).status_code == 200
    assert client.http.get("/api/surveys/ABCDEF012345", headers=auth()).status_code == 404
    assert svc.api._survey_service() is svc.surveys  # the one the ingest and the worker use too
    assert svc.ingest._surveys is svc.surveys


def test_the_status_route_looks_each_queue_url_up_once_per_process(client):
    svc = services_module.services()
    lookups = []
    svc.sqs.meta.events.register("before-parameter-build.sqs.GetQueueUrl",
                                 lambda params, **kwargs: lookups.append(params))
    first = client.http.get("/api/status", headers=auth())
    assert first.status_code == 200 and len(lookups) <= 2  # the jobs queue and its dead-letter queue
    again = client.http.get("/api/status", headers=auth())
    assert again.status_code == 200 and again.json_body == first.json_body
    assert sorted(p["QueueName"] for p in lookups) == ["voix-dev-jobs", "voix-dev-jobs-dlq"]
