"""SES receiving's cloud side (issue 24): the receipt rules made from the configuration, created with the rest of
``infra/template.yaml`` through (moto's) CloudFormation, the rule set made active by ``make deploy``, and the
inbound e-mail function's failures replayed. The packaged template's side: tests/test_deploy_package.py."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from infra.email_rules import receipt_rules, recipients
from infra.resources import create_stack, template_body


def config(*sites: tuple[str, list[str]], central: str | None = "Feedback@Feedback.Example.com"):
    """A stand-in configuration: the sites' ids and addresses, and the central address."""
    return SimpleNamespace(sites=[SimpleNamespace(id=i, email_addresses=a) for i, a in sites],
                           deployment=SimpleNamespace(central_email=central))


SITES = config(("store-leeds", ["Leeds@feedback.example.com", "leeds@feedback.example.com"]), ("line-12", []),
               ("store-york", ["york@feedback.example.com", "yorkshire@feedback.example.com"]))


def test_one_rule_per_site_with_addresses_then_the_central_address_each_storing_and_notifying():
    assert recipients(SITES) == [("site-store-leeds", ["leeds@feedback.example.com"]),
                                 ("site-store-york", ["york@feedback.example.com", "yorkshire@feedback.example.com"]),
                                 ("central", ["feedback@feedback.example.com"])]
    rules = receipt_rules(SITES)
    assert list(rules) == ["InboundEmailRuleSiteStoreLeeds", "InboundEmailRuleSiteStoreYork", "InboundEmailRuleCentral"]
    names = []
    for rule in rules.values():
        assert rule["Type"] == "AWS::SES::ReceiptRule" and rule["Condition"] == "ReceivesEmail"
        properties = rule["Properties"]
        assert properties["RuleSetName"] == {"Ref": "InboundEmailRuleSet"}
        body = properties["Rule"]
        assert body["Enabled"] is True and body["ScanEnabled"] is True and body["TlsPolicy"] == "Require"
        # every mail stored whole, then notified: an SNS action would bounce a mail over 150 KB
        assert body["Actions"] == [{"S3Action": {"BucketName": {"Ref": "InboundEmailBucket"},
                                                 "ObjectKeyPrefix": "inbound/",
                                                 "TopicArn": {"Ref": "InboundEmailTopic"}}}]
        # SES checks it may store and publish when the rule is created: the policies come first
        assert {"InboundEmailBucketPolicy", "InboundEmailTopicPolicy"} <= set(rule["DependsOn"])
        if names:  # in order, one after the other
            assert properties["After"] == names[-1] and list(rules)[len(names) - 1] in rule["DependsOn"]
        else:
            assert "After" not in properties
        names.append(body["Name"])
    assert names[0] == {"Fn::Sub": "voix-${Stage}-site-store-leeds"}
    assert receipt_rules(config(central=None)) == {}  # no address: no rule


def test_what_ses_would_refuse_is_refused_when_the_template_is_made():
    crowded = config(("store-leeds", [f"a{n}@feedback.example.com" for n in range(101)]))
    with pytest.raises(SystemExit, match="at most 100"):
        recipients(crowded)
    many = config(*[(f"site-{n}", [f"s{n}@feedback.example.com"]) for n in range(200)])
    with pytest.raises(SystemExit, match="at most 200"):
        recipients(many)


def test_the_rehearsal_creates_the_receipt_rules_and_ses_s_policies_through_cloudformation():
    """Fails on the old code: the template had no inbound e-mail resources (and moto's CloudFormation skipped SES
    rules, bucket and topic policies)."""
    import warnings

    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("error")  # moto warns when it skips a resource type
        cfn = boto3.client("cloudformation")
        outputs = create_stack(cfn, "dev", name="voix-rehearsal", config=SITES)
        bucket, topic = outputs["InboundEmailBucketName"], outputs["InboundEmailTopicArn"]
        assert bucket == "voix-dev-inbound-email-123456789012-eu-west-2" and topic.endswith(":voix-dev-inbound-email")
        ses = boto3.client("ses")
        rules = ses.describe_receipt_rule_set(RuleSetName=outputs["InboundEmailRuleSetName"])["Rules"]
        assert outputs["InboundEmailRuleSetName"] == "voix-dev-inbound"
        assert [(r["Name"], r["Recipients"]) for r in rules] == [
            ("voix-dev-site-store-leeds", ["leeds@feedback.example.com"]),
            ("voix-dev-site-store-york", ["york@feedback.example.com", "yorkshire@feedback.example.com"]),
            ("voix-dev-central", ["feedback@feedback.example.com"])]
        assert all(r["Actions"] == [{"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "inbound/",
                                                  "TopicArn": topic}}] for r in rules)
        policy = json.loads(boto3.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
        [store] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert store["Principal"] == {"Service": "ses.amazonaws.com"} and store["Action"] == "s3:PutObject"
        assert store["Resource"] == f"arn:aws:s3:::{bucket}/inbound/*"
        assert store["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
        assert store["Condition"]["ArnLike"]["aws:SourceArn"] == \
            "arn:aws:ses:eu-west-2:123456789012:receipt-rule-set/voix-dev-inbound:receipt-rule/*"
        # moto leaves out the HttpsOnly deny, whose condition it cannot read: objects are stored and read
        boto3.client("s3").put_object(Bucket=bucket, Key="inbound/0f1e2d3c", Body=b"Subject: hi\r\n\r\nhello")
        assert boto3.client("s3").get_object(Bucket=bucket, Key="inbound/0f1e2d3c")["Body"].read().endswith(b"hello")
        boto3.client("s3").delete_object(Bucket=bucket, Key="inbound/0f1e2d3c")
        sns = boto3.client("sns")
        attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        [publish] = json.loads(attributes["Policy"])["Statement"]
        assert publish["Principal"] == {"Service": "ses.amazonaws.com"} and publish["Resource"] == topic
        failed = boto3.client("sqs").get_queue_attributes(QueueUrl=outputs["InboundEmailFailedQueueUrl"],
                                                          AttributeNames=["All"])["Attributes"]
        assert failed["MessageRetentionPeriod"] == "1209600"  # (its key, as the topic's: moto leaves it out)
        cfn.delete_stack(StackName="voix-rehearsal")
        assert ses.list_receipt_rule_sets()["RuleSets"] == []  # the rules go with the stack
        # EmailReceiving=false (the cloud's default: a region without SES receiving deploys): no rule set
        cfn.create_stack(StackName="voix-off", TemplateBody=template_body(SITES),
                         Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"}])
        assert ses.list_receipt_rule_sets()["RuleSets"] == []
        outputs = {o["OutputKey"] for o in cfn.describe_stacks(StackName="voix-off")["Stacks"][0]["Outputs"]}
        assert "InboundEmailRuleSetName" not in outputs and "InboundEmailTopicArn" in outputs


def test_make_deploy_activates_the_rule_set_but_never_silently_replaces_another():
    from infra.deploy import activate_rule_set, deactivate_rule_set

    with mock_aws():
        ses = boto3.client("ses")
        for name in ("voix-prod-inbound", "someone-elses"):
            ses.create_receipt_rule_set(RuleSetName=name)
        out = io.StringIO()
        assert activate_rule_set(ses, None, out=out) is False and "off" in out.getvalue()
        assert activate_rule_set(ses, "voix-prod-inbound", out=out) is True  # none active: ours
        assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "voix-prod-inbound"
        assert activate_rule_set(ses, "voix-prod-inbound", out=out) is True  # already: nothing to do
        ses.set_active_receipt_rule_set(RuleSetName="someone-elses")
        out = io.StringIO()
        assert activate_rule_set(ses, "voix-prod-inbound", out=out) is False  # another's: left, and said
        assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "someone-elses"
        assert "ACTIVATE_RULE_SET=1" in out.getvalue() and "someone-elses" in out.getvalue()
        assert activate_rule_set(ses, "voix-prod-inbound", replace=True, out=out) is True
        assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "voix-prod-inbound"
        # EMAIL_RECEIVING=false: SES refuses to delete the active rule set, so ours is made inactive first
        assert deactivate_rule_set(ses, "dev", out=out) is False  # another stage's: left
        assert deactivate_rule_set(ses, "prod", out=out) is True
        assert not ses.describe_active_receipt_rule_set().get("Metadata")
        ses.delete_receipt_rule_set(RuleSetName="voix-prod-inbound")


class _Stack:
    """CloudFormation as deploy_stack sees it, for one stack with the given parameters (None: no stack yet)."""

    def __init__(self, parameters):
        from botocore.exceptions import ClientError

        self.parameters, self.sent = parameters, None
        self.exceptions = SimpleNamespace(ClientError=ClientError)

    def describe_stacks(self, StackName):  # noqa: N803 - boto3's names
        from botocore.exceptions import ClientError

        if self.parameters is None and self.sent is None:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE", "Outputs": [],
                            "Parameters": [{"ParameterKey": k} for k in self.parameters or ()]}]}

    def create_change_set(self, **kwargs):
        self.sent = kwargs["Parameters"]

    def get_waiter(self, name):
        return SimpleNamespace(wait=lambda **kwargs: None)

    def execute_change_set(self, **kwargs):
        pass


def test_email_receiving_is_kept_between_deploys_and_defaults_to_off(monkeypatch):
    """EMAIL_RECEIVING=true once, then kept (UsePreviousValue); never UsePreviousValue for a parameter the stack
    does not have yet (CloudFormation refuses it: a first deploy, or a stack of the version before)."""
    from infra.deploy import deploy_stack, kept_parameters

    monkeypatch.delenv("EMAIL_RECEIVING", raising=False)
    monkeypatch.delenv("INBOUND_EMAIL_RETENTION_DAYS", raising=False)
    operator = {"DashboardDomainName": "voix.example.com", "DashboardCertificateArn": "arn:aws:acm:us-east-1:1:c/x"}
    older = _Stack(["Stage", "DashboardDomainName", "DashboardCertificateArn"])
    deploy_stack(older, "voix-prod", "https://t", "prod", {**operator, **kept_parameters()})
    assert {p["ParameterKey"] for p in older.sent} == {"Stage", *operator}  # the template's default: off
    current = _Stack(["Stage", *operator, "EmailReceiving", "InboundEmailRetentionDays"])
    deploy_stack(current, "voix-prod", "https://t", "prod", {**operator, **kept_parameters()})
    assert {"ParameterKey": "EmailReceiving", "UsePreviousValue": True} in current.sent
    monkeypatch.setenv("EMAIL_RECEIVING", "true")
    first = _Stack(None)
    deploy_stack(first, "voix-prod", "https://t", "prod", {**operator, **kept_parameters()})
    assert {"ParameterKey": "EmailReceiving", "ParameterValue": "true"} in first.sent
    assert "InboundEmailRetentionDays" not in {p["ParameterKey"] for p in first.sent}


def test_replay_failed_gives_the_inbound_email_function_another_try():
    """A notification the inbound e-mail function gave up on waits in its own on-failure queue; `make replay-failed`
    publishes it to the e-mail topic again, as SES first did."""
    from infra.local_worker import sns_event
    from infra.replay_failed import main as replay_failed
    from tests.test_rehearsal import on_failure_record

    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation"), "dev", name="voix-rehearsal", config=SITES)
        sqs, sns = boto3.client("sqs"), boto3.client("sns")
        topic = outputs["InboundEmailTopicArn"]
        buffer = sqs.create_queue(QueueName="voix-dev-inbound-email-local")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=buffer, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        note = json.dumps({"notificationType": "Received", "mail": {"messageId": "0f1e2d3c4b5a6978"}})
        event = sns_event({"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5f",
                           "TopicArn": topic, "Message": note, "Timestamp": "2026-11-28T07:10:00.000Z"},
                          subscription_arn=f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f56")
        failed = outputs["InboundEmailFailedQueueUrl"]
        sqs.send_message(QueueUrl=failed, MessageBody=json.dumps(on_failure_record(event)))
        report = io.StringIO()
        assert replay_failed(["--stage", "dev"], out=report) == 0
        assert "1 record(s) replayed (1 mail), 0 left in voix-dev-inbound-email-failed" in report.getvalue()
        [delivered] = sqs.receive_message(QueueUrl=buffer)["Messages"]
        assert delivered["Body"] == note
