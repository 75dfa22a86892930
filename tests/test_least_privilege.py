"""Each Lambda function has its own IAM role, allowed exactly what it calls (issue 14, finding 7).

The table below is what each function's code calls (read from app.py and chalicelib; the second test
watches the calls the handlers really make against moto, and holds them to the same table). The packaged
template is parsed and each function's role is held to its row: nothing more, nothing less.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.package import load

ROOT = Path(__file__).resolve().parent.parent

# (BatchGetItem is on the counters table only: storage batches reads of counters and roll-ups, nothing else.)
# Resources by kind (the ARNs in .chalice/policy-<stage>-<function>.json, for stage S):
#   table = arn:aws:dynamodb:*:*:table/voix-S, index = its indexes, counters = voix-S-counters,
#   jobs / jobs-dlq / inbound-sms-failed = the SQS queues voix-S-..., param:NAME = SSM /voix/S/NAME,
#   logs = the function's own log group, phone = an SMS to a phone number (no ARN: "*"),
#   identity = an SES identity, number = an End User Messaging phone number,
#   inbound-sms-key = the inbound topic's KMS key (granted by infra/package.py, its ARN being the stack's),
#   inbound-email-failed / inbound-email-key = the same for the inbound e-mail function,
#   inbound-mail = the objects SES receiving stores under inbound/ in voix-S-inbound-email-<account>-<region>
TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem"}
EXPECTED: dict[str, dict[str, set[str]]] = {
    # the operator API (erasure deletes) and the ack links; POST /sms/twilio is TwilioWebhook's (issue 20, 8)
    "APIHandler": {  # Query on the table: a case's conversation, its replies of the last hour, the customer's
        # history (and BatchGetItem: the cases it names)
        "table": {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                  "dynamodb:Query",
                  *TABLE_WRITES},
        "index": {"dynamodb:Query"},
        "counters": {"dynamodb:BatchGetItem", "dynamodb:Query", *TABLE_WRITES},
        "jobs": {"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"},
        "jobs-dlq": {"sqs:GetQueueAttributes", "sqs:GetQueueUrl"},  # GET /api/status: depths only
        **{f"param:{name}": {"ssm:GetParameter"} for name in (
            "audit-token-sha256", "customer-key-secret", "link-signing-key", "operator-token-sha256")},
    },
    # the public Twilio webhook (infra/webhook_split.py) and its status callbacks: ingest only, no erasure, no
    # operator secret. Ingest's
    # single-item deletes stay (a START lifts its suppression, a staff's "OK <code>" frees the case's code, an
    # offer's marker), as on InboundSms, the same ingest; no BatchWriteItem, no index (finding a customer's items)
    "TwilioWebhook": {  # Query on the table: a staff SMS relay counts the case's replies of the last hour
        "table": {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", *TABLE_WRITES},
        "counters": {"dynamodb:BatchGetItem", *TABLE_WRITES},
        "jobs": {"sqs:GetQueueUrl", "sqs:SendMessage"},
        **{f"param:{name}": {"ssm:GetParameter"} for name in (
            "customer-key-secret", "twilio-account-sid", "twilio-auth-token")},
    },
    # End User Messaging two-way SMS: ingest (offers and survey answers included) and the reply
    "InboundSms": {  # Query on the table: as the Twilio webhook's, a staff SMS relay
        "table": {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", *TABLE_WRITES},
        "counters": {"dynamodb:BatchGetItem", *TABLE_WRITES},  # a staff's "OK <code>" by SMS: response counts
        "jobs": {"sqs:GetQueueUrl", "sqs:SendMessage"},
        "inbound-sms-failed": {"sqs:SendMessage"},  # Lambda sends the on-failure record with the function's role
        "inbound-sms-key": {"kms:Decrypt", "kms:GenerateDataKey"},  # that queue is encrypted with the topic's key
        "number": {"sms-voice:SendTextMessage"},
        "param:customer-key-secret": {"ssm:GetParameter"},
    },
    # SES receiving: ingest, as InboundSms, the mail read from the bucket (its inbound/ prefix alone), the reply by
    # SES v2 (and its List-Unsubscribe link, signed with the link key)
    "InboundEmail": {
        "table": {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", *TABLE_WRITES},
        "counters": {"dynamodb:BatchGetItem", *TABLE_WRITES},
        "jobs": {"sqs:GetQueueUrl", "sqs:SendMessage"},
        "inbound-email-failed": {"sqs:SendMessage"},
        "inbound-email-key": {"kms:Decrypt", "kms:GenerateDataKey"},
        "inbound-mail": {"s3:GetObject"},
        "identity": {"ses:SendEmail"},
        "param:customer-key-secret": {"ssm:GetParameter"},
        "param:link-signing-key": {"ssm:GetParameter"},
    },
    # alerts (SMS through SNS, e-mail through SES), survey questions (End User Messaging), its own queue
    "Worker": {
        # BatchWriteItem and the index: a message erased while its job runs is erased again with what it opened
        "table": {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem", *TABLE_WRITES},
        "index": {"dynamodb:Query"},
        "counters": {"dynamodb:BatchGetItem", *TABLE_WRITES},
        "jobs": {"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
                 "sqs:SendMessage"},
        "phone": {"sns:Publish"},
        "identity": {"ses:SendEmail"},
        "number": {"sms-voice:SendTextMessage"},
        "param:customer-key-secret": {"ssm:GetParameter"},
        "param:link-signing-key": {"ssm:GetParameter"},
        # staff replies by Twilio's Messages API (HTTPS, the account's SID and auth token)
        "param:twilio-account-sid": {"ssm:GetParameter"}, "param:twilio-auth-token": {"ssm:GetParameter"},
    },
    "SweepPending": {
        "index": {"dynamodb:Query"},
        "jobs": {"sqs:GetQueueUrl", "sqs:SendMessage"},
    },
    "EscalateCases": {
        "table": {"dynamodb:UpdateItem"}, "index": {"dynamodb:Query"},
        "counters": {"dynamodb:BatchGetItem", *TABLE_WRITES},
        "jobs": {"sqs:GetQueueUrl", "sqs:SendMessage"},
    },
    "DetectIncidents": {  # emerging issues: counters by key, incidents opened and moved on, three examples each
        "table": {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, "index": {"dynamodb:Query"},
        "counters": {"dynamodb:BatchGetItem"},
        "jobs": {"sqs:GetQueueUrl", "sqs:SendMessage"},
    },
    "SendDigests": {
        "table": {"dynamodb:DeleteItem", "dynamodb:PutItem"},  # the once-a-day marker per recipient
        "index": {"dynamodb:Query"},
        "counters": {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"},
        "identity": {"ses:SendEmail"},
    },
    "RollUpCounters": {  # ranks the sites: one query per site, one put per window
        "counters": {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"},
    },
}
# every function reads the live configuration (issue 22): GetItem and BatchGetItem of its items alone
CONFIG_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CONFIG", "CONFIG#*"]}}
for _row in EXPECTED.values():
    _row["config"] = {"dynamodb:BatchGetItem", "dynamodb:GetItem"}
# never logs:CreateLogGroup: each log group is the template's, with its retention (issue 20, finding 4)
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
# Denied to every function that may publish SMS: a topic (an SMS is published to a number, never a topic)
DENIED = {"Worker": {("sns:Publish", "arn:aws:sns:*:*:*")}}


def kind_of(resource: str | dict, stage: str, function: str) -> str:
    if resource == {"Fn::GetAtt": ["InboundSmsKey", "Arn"]}:  # added by infra/package.py (the stack's own key)
        return "inbound-sms-key"
    if resource == {"Fn::GetAtt": ["InboundEmailKey", "Arn"]}:
        return "inbound-email-key"
    if not isinstance(resource, str):
        return f"OTHER: {resource}"
    prefix = {"arn:aws:dynamodb:*:*:table/": "dynamodb", "arn:aws:sqs:*:*:": "sqs", "arn:aws:s3:::": "s3",
              "arn:aws:ssm:*:*:parameter/": "ssm", "arn:aws:logs:*:*:log-group:": "logs"}
    exact = {f"arn:aws:dynamodb:*:*:table/voix-{stage}": "table",
             f"arn:aws:dynamodb:*:*:table/voix-{stage}/index/*": "index",
             f"arn:aws:dynamodb:*:*:table/voix-{stage}-counters": "counters",
             f"arn:aws:sqs:*:*:voix-{stage}-jobs": "jobs", f"arn:aws:sqs:*:*:voix-{stage}-jobs-dlq": "jobs-dlq",
             f"arn:aws:sqs:*:*:voix-{stage}-inbound-sms-failed": "inbound-sms-failed",
             f"arn:aws:sqs:*:*:voix-{stage}-inbound-email-failed": "inbound-email-failed",
             f"arn:aws:s3:::voix-{stage}-inbound-email-*/inbound/*": "inbound-mail",
             f"arn:aws:logs:*:*:log-group:/aws/lambda/voix-{stage}-{function}-*": "logs",
             "*": "phone", "arn:aws:ses:*:*:identity/*": "identity",
             "arn:aws:sms-voice:*:*:phone-number/*": "number"}
    if resource in exact:
        return exact[resource]
    if resource.startswith(f"arn:aws:ssm:*:*:parameter/voix/{stage}/") and "*" not in resource.rsplit("/", 1)[1]:
        return "param:" + resource.rsplit("/", 1)[1]
    for start, service in prefix.items():
        if resource.startswith(start):
            return f"OTHER {service}: {resource}"  # another stage's, or a wildcard: never expected
    return f"OTHER: {resource}"


def grants(template: dict, function: str, stage: str) -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """What a function's role allows, by resource kind, and what it denies."""
    role_ref = template["Resources"][function]["Properties"]["Role"]
    assert role_ref["Fn::GetAtt"][1] == "Arn"
    role = template["Resources"][role_ref["Fn::GetAtt"][0]]
    assert role["Type"] == "AWS::IAM::Role" and "ManagedPolicyArns" not in role["Properties"]
    allowed: dict[str, set[str]] = {}
    denied: set[tuple[str, str]] = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert "NotAction" not in statement and "NotResource" not in statement
            # the one condition allowed: the live configuration's items only (issue 22), read by every function
            assert statement.get("Condition", CONFIG_ONLY) == CONFIG_ONLY and statement["Effect"] == "Allow" \
                if "Condition" in statement else True
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                for resource in resources:
                    if statement["Effect"] == "Deny":
                        denied.add((action, resource))
                    else:
                        kind = "config" if "Condition" in statement else kind_of(resource, stage, function)
                        allowed.setdefault(kind, set()).add(action)
    return allowed, denied


@pytest.fixture(scope="module")
def templates(packaged):
    return {stage: load(packaged[stage] / "sam.yaml") for stage in ("dev", "prod")}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_function_has_its_own_role_allowed_exactly_what_it_calls(templates, stage):
    template = templates[stage]
    functions = sorted(n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function")
    assert functions == sorted(EXPECTED)  # a new function needs its row (and its policy file)
    roles = [template["Resources"][f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions]
    assert len(set(roles)) == len(functions)  # no role shared
    for function in functions:
        allowed, denied = grants(template, function, stage)
        assert allowed.pop("logs", None) == LOGS, function  # its own log group only
        assert allowed == EXPECTED[function], function
        assert denied == DENIED.get(function, set()), function


def test_only_erasure_deletes_in_bulk_and_only_the_worker_pages_by_sms_or_email(templates):
    """The finding as the probe put it: SMS, e-mail and bulk deletes are no longer every function's."""
    template = templates["prod"]
    holders: dict[str, set[str]] = {}
    for function in EXPECTED:
        allowed, _ = grants(template, function, "prod")
        for actions in allowed.values():
            for action in actions:
                holders.setdefault(action, set()).add(function)
    assert holders["sns:Publish"] == {"Worker"}
    assert holders["ses:SendEmail"] == {"Worker", "SendDigests", "InboundEmail"}  # alerts, digests, replies by mail
    assert holders["s3:GetObject"] == {"InboundEmail"}  # the raw mail SES stored, read by its function alone
    assert holders["sms-voice:SendTextMessage"] == {"Worker", "InboundSms"}
    # erasure: the API, and the worker when a message is erased while its job runs (see Worker's row)
    assert holders["dynamodb:BatchWriteItem"] == {"APIHandler", "Worker"}
    # issue 20, finding 8: the public webhook erases nothing and reads no operator secret (fails on the old code)
    webhook, _ = grants(template, "TwilioWebhook", "prod")
    assert "dynamodb:BatchWriteItem" not in webhook["table"] and "index" not in webhook
    assert {k for k in webhook if k.startswith("param:")} == {
        "param:customer-key-secret", "param:twilio-account-sid", "param:twilio-auth-token"}
    operator, _ = grants(template, "APIHandler", "prod")
    assert "param:twilio-auth-token" not in operator
    assert "APIHandler" not in holders["sns:Publish"] | holders["ses:SendEmail"] | holders["sms-voice:SendTextMessage"]
    mail, _ = grants(template, "InboundEmail", "prod")  # never SMS, never a topic, no operator secret
    assert {"sns:Publish", "sms-voice:SendTextMessage"}.isdisjoint(set().union(*mail.values()))
    assert "dynamodb:BatchWriteItem" not in mail["table"] and "index" not in mail
    assert {"RollUpCounters", "SweepPending", "EscalateCases", "DetectIncidents"}.isdisjoint(
        holders["dynamodb:DeleteItem"])


def test_the_dev_and_prod_policies_say_the_same_but_for_the_stage():
    folder = ROOT / ".chalice"
    prod = sorted(p.name for p in folder.glob("policy-prod-*.json"))
    assert len(prod) == len(EXPECTED)
    for name in prod:
        dev = (folder / name.replace("policy-prod-", "policy-dev-")).read_text()
        assert dev.replace("voix-dev", "voix-prod").replace("/voix/dev/", "/voix/prod/") == (folder / name).read_text()


# -- the calls the handlers really make (moto), held to the same table ---------------------------------------
ACTION_NAMES = {"sqs:SendMessageBatch": "sqs:SendMessage"}  # one IAM action covers both calls
TRANSACT_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                    "ConditionCheck": "dynamodb:ConditionCheckItem"}


def call_kind(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """(IAM action, resource kind) of one SDK call, for stage dev."""
    action = ACTION_NAMES.get(f"{service}:{operation}", f"{service}:{operation}")
    if service == "dynamodb":
        kinds = {"voix-dev": "table", "voix-dev-counters": "counters"}
        if operation == "TransactWriteItems":  # IAM checks each item's own action
            return [(TRANSACT_ACTIONS[op], kinds[body["TableName"]])
                    for entry in params["TransactItems"] for op, body in entry.items()]
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        keys = [params["Key"]] if operation == "GetItem" else [
            k for t in tables for k in params["RequestItems"][t]["Keys"]] if operation == "BatchGetItem" else []
        if keys and all(
                k["pk"]["S"] == "CONFIG" or k["pk"]["S"].startswith("CONFIG#") for k in keys):
            return [(action, "config")]  # the live configuration: every function reads it
        return [(action, "index" if params.get("IndexName") else kinds[t]) for t in tables]
    if service == "sqs":
        queue = params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[1]
        return [(action, queue.removeprefix("voix-dev-"))]
    if service == "ssm":
        return [(action, "param:" + params["Name"].rsplit("/", 1)[1])]
    if service == "s3":  # the raw mail SES receiving stored, in the stack's bucket, under inbound/
        inside = params["Bucket"].startswith("voix-dev-inbound-email-") and params["Key"].startswith("inbound/")
        return [(action, "inbound-mail" if inside else f"OTHER s3: {params['Bucket']}/{params['Key']}")]
    return [(action, {"sns": "phone", "ses": "identity", "sms-voice": "number"}[service])]


@contextmanager
def watching(monkeypatch):
    import botocore.client

    seen: dict[str, set[tuple[str, str]]] = {}
    current: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        if current:
            service = self.meta.service_model.signing_name
            seen.setdefault(current[-1], set()).update(call_kind(service, operation, params))
        return original(self, operation, params)

    @contextmanager
    def function(name):
        current.append(name)
        try:
            yield
        finally:
            current.pop()

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    yield function, seen


def test_what_each_handler_calls_on_moto_is_within_its_row(client, monkeypatch):
    """Each Lambda's entry point run the way its trigger runs it (the webhook and the operator API over the
    Chalice test client, the worker on its SQS batches, End User Messaging's SNS event, the schedules), its
    secrets read from SSM as in the cloud: every call it makes is one its row allows."""
    import boto3
    from botocore.stub import ANY, Stubber

    import app
    from chalicelib import secrets, services
    from chalicelib.channels.eum import EndUserMessagingSender
    from infra.local_worker import FakeLambdaContext
    from infra.twilio_standin import TwilioStandIn
    from tests.conftest import TWILIO_ACCOUNT, TWILIO_TOKEN, auth, drain, post_sms, twilio_params
    from tests.test_case_replies import callback as status_callback
    from tests.test_end_user_messaging import eum_payload

    twilio = TwilioStandIn(TWILIO_ACCOUNT, TWILIO_TOKEN, callbacks=False)
    monkeypatch.setenv("TWILIO_API_URL", twilio.start())
    monkeypatch.setattr("chalicelib.replying.quiet_delay", lambda *args: 0)  # the reply goes now, at any hour

    ssm = boto3.client("ssm")
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "OPERATOR_TOKEN_SHA256", "CUSTOMER_KEY_SECRET",
                 "LINK_SIGNING_KEY", "AUDIT_TOKEN_SHA256"):
        parameter = f"/voix/dev/{name.lower().replace('_', '-')}"
        ssm.put_parameter(Name=parameter, Value=secrets.os.environ[name], Type="SecureString")
        monkeypatch.setenv(f"{name}_PARAM", parameter)
        monkeypatch.delenv(name)

    eum = boto3.client("pinpoint-sms-voice-v2")
    stubber = Stubber(eum)
    for _ in range(2):  # the answer to the staff's "OK <code>", and to the customer
        stubber.add_response("send_text_message", {"MessageId": "reply-1"}, {
            "DestinationPhoneNumber": ANY, "OriginationIdentity": ANY, "MessageBody": ANY,
            "MessageType": "TRANSACTIONAL", "Context": ANY})
    scheduled = {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": "123456789012", "time": "2026-11-28T06:00:00Z",
                 "region": "eu-west-2", "resources": ["arn:aws:events:eu-west-2:123456789012:rule/voix-dev"],
                 "detail": {}}

    @contextmanager
    def lambda_of(name):
        """A cold start: each function has its own clients, adapters and cache of SSM reads."""
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        services.reset()
        with function(name):
            yield

    with watching(monkeypatch) as (function, seen), stubber:
        with lambda_of("TwilioWebhook"):
            assert post_sms(client, twilio_params("L8 it's far too hot on this bus")).status_code == 200
            # a STOP: consent and its message's marker, written in one transaction
            assert post_sms(client, twilio_params("STOP", sid="SM" + "5" * 32, frm="+447700900124")).status_code == 200
        with lambda_of("APIHandler"):
            for path in ("/api/feedback", "/api/cases", "/api/metrics", "/api/status", "/api/scorecards",
                         "/api/incidents"):
                assert client.http.get(path, headers=auth()).status_code == 200, path
        with lambda_of("Worker"):
            drain()
        [case] = client.http.get("/api/cases", headers=auth()).json_body["items"]
        with lambda_of("APIHandler"):  # a case with its conversation, and a staff reply to its customer
            assert client.http.get(f"/api/cases/{case['id']}", headers=auth()).status_code == 200
            replied = client.http.post(f"/api/cases/{case['id']}/reply", headers=auth(),
                                       body='{"text": "Sorry, we are on it", "by": "Sam"}')
            assert replied.status_code == 202, replied.body
            assigned = client.http.post(f"/api/cases/{case['id']}/assign", headers=auth(), body='{"to": "Sam"}')
            assert assigned.status_code == 200, assigned.body
            relabelled = client.http.request("PATCH", f"/api/feedback/{case['message_id']}", headers=auth(),
                                             body='{"topic": "cleanliness", "by": "Sam"}')  # one transaction
            assert relabelled.status_code == 200, relabelled.body
            assert client.http.get("/api/metrics/quality", headers=auth()).status_code == 200
            rules = client.http.get("/api/config/rules", headers=auth()).json_body["data"]  # the rules studio
            for path, body in (("/api/config/rules/preview", {"data": rules}),
                               ("/api/config/rules/explain", {"text": "L8 too hot", "data": rules})):
                studio = client.http.post(path, headers={**auth(), "Content-Type": "application/json"},
                                          body=json.dumps(body))
                assert studio.status_code == 200, studio.body
            assert client.http.get("/api/config/rules/suggestions", headers=auth()).status_code == 200
        with lambda_of("TwilioWebhook"):  # the driver answers the customer by SMS: R <code> <text>
            relay = post_sms(client, twilio_params(f"R {case['code']} Coming to your seat", sid="SM" + "7" * 32,
                                                   frm="+447700900801"))
            assert relay.status_code == 200 and b"sent to the customer" in relay.body, relay.body
        with lambda_of("InboundSms"):
            services.services().reply_sender = EndUserMessagingSender(eum)
            for payload in (eum_payload(f"OK {case['code']}", "6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0101",
                                        origination="+447700900801", destination="+447700900008"),
                            eum_payload(message_id="6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a0102")):
                client.lambda_.invoke("inbound_sms", client.events.generate_sns_event(message=payload, subject=""))
        acknowledged = client.http.get("/api/cases?status=acknowledged", headers=auth()).json_body["items"]
        assert [c["id"] for c in acknowledged] == [case["id"]]  # by the staff's SMS
        with lambda_of("Worker"):
            drain()
        sent, relayed = twilio.sent  # the replies (API, SMS relay), by Twilio's Messages API (the local stand-in)
        assert relayed["Body"] == "Coming to your seat" and relayed["From"] == "+447700900008"
        with lambda_of("TwilioWebhook"):  # its signed status callback
            assert status_callback(client, sent, "delivered").status_code == 204
        with lambda_of("APIHandler"):
            resolve = client.http.post(f"/api/cases/{case['id']}/resolve", headers=auth(), body="{}")
            assert resolve.status_code == 200, resolve.body
            assert client.http.delete("/api/customers/%2B447700900123", headers=auth()).status_code == 200
        for name, handler in (("SweepPending", app.sweep_pending), ("EscalateCases", app.escalate_cases),
                              ("DetectIncidents", app.detect_incidents),
                              ("SendDigests", app.send_digests), ("RollUpCounters", app.roll_up_counters)):
            with lambda_of(name):
                handler(scheduled, FakeLambdaContext())
    for name, calls in seen.items():
        allowed = {(action, kind) for kind, actions in EXPECTED[name].items() for action in actions}
        assert calls <= allowed, (name, sorted(calls - allowed))
    assert set(seen) == set(EXPECTED) - {"InboundEmail"}  # every function was seen calling AWS (e-mail: below)
    assert ("sms-voice:SendTextMessage", "number") in seen["InboundSms"]
    assert ("sns:Publish", "phone") in seen["Worker"] and ("ses:SendEmail", "identity") in seen["SendDigests"]
    assert ("ssm:GetParameter", "param:twilio-auth-token") in seen["TwilioWebhook"]
    assert ("ssm:GetParameter", "param:twilio-auth-token") in seen["Worker"]  # the reply's basic auth
    assert ("dynamodb:Query", "table") in seen["APIHandler"]  # the conversation
    assert ("ssm:GetParameter", "param:customer-key-secret") in seen["InboundSms"]
    assert ("dynamodb:UpdateItem", "counters") in seen["InboundSms"]  # the staff's "OK <code>" counted
    assert ("dynamodb:BatchWriteItem", "table") in seen["APIHandler"] or \
        ("dynamodb:DeleteItem", "table") in seen["APIHandler"]  # the erasure ran


def test_what_the_inbound_email_function_calls_on_moto_is_within_its_row(client, aws, monkeypatch):
    """SES receiving's notification of a mail it stored (S3 action, the way every mail arrives in the cloud), run
    through the ``inbound_email`` Lambda as SNS runs it, its secrets read from SSM: the raw mail is read from the
    stack's bucket under inbound/, the reply goes by SES v2, and nothing else is called. Needs the e-mail channel
    (issue 24: ``chalicelib/channels/email.py``, ``infra.simulate.ses_notification``)."""
    pytest.importorskip("chalicelib.channels.email")
    simulate = pytest.importorskip("infra.simulate")
    if not hasattr(simulate, "ses_notification"):
        pytest.skip("the e-mail channel's simulator is not merged yet")
    import boto3

    from chalicelib import secrets, services
    from chalicelib.config_loader import get_config

    monkeypatch.setattr("chalicelib.replying.quiet_delay", lambda *args: 0)  # the reply goes now, at any hour
    [address, *_] = [str(a).lower() for s in get_config().sites for a in s.email_addresses]
    boto3.client("sesv2").create_email_identity(EmailIdentity=address.rpartition("@")[2])
    ssm = boto3.client("ssm")
    for name in ("CUSTOMER_KEY_SECRET", "LINK_SIGNING_KEY"):
        parameter = f"/voix/dev/{name.lower().replace('_', '-')}"
        ssm.put_parameter(Name=parameter, Value=secrets.os.environ[name], Type="SecureString")
        monkeypatch.setenv(f"{name}_PARAM", parameter)
        monkeypatch.delenv(name)
    bucket, key = aws["InboundEmailBucketName"], "inbound/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    monkeypatch.setenv("INBOUND_EMAIL_BUCKET", bucket)
    raw = simulate.raw_mail("Ann Smith <ann.smith@gmail.com>", address, "Visit today",
                            "The shop was filthy and the staff were rude")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=raw)
    note = simulate.ses_notification(raw, sender="ann.smith@gmail.com", to=address, ses_id=key.rsplit("/", 1)[1],
                                     topic_arn=aws["InboundEmailTopicArn"], s3=(bucket, key))
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    services.reset()
    with watching(monkeypatch) as (function, seen), function("InboundEmail"):
        client.lambda_.invoke("inbound_email", client.events.generate_sns_event(message=note, subject=""))
    allowed = {(action, kind) for kind, actions in EXPECTED["InboundEmail"].items() for action in actions}
    assert seen["InboundEmail"] <= allowed, sorted(seen["InboundEmail"] - allowed)
    assert {("s3:GetObject", "inbound-mail"), ("ses:SendEmail", "identity"),
            ("ssm:GetParameter", "param:customer-key-secret")} <= seen["InboundEmail"]
