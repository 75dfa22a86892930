"""A rehearsal of the deploy: infra/template.yaml's resources created by (moto's) CloudFormation, the core
flow run against exactly what that stack created, the stack torn down."""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.etree import ElementTree

import boto3
from moto import mock_aws

from infra.resources import create_stack
from tests.conftest import drain, post_sms, sent_sms, twilio_params


def test_the_stack_s_names_outputs_and_variables_are_wired():
    from chalice.test import Client

    from app import app
    from chalicelib import services

    config = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text())
    stage = config["stages"]["dev"]["environment_variables"]
    with mock_aws():
        cfn = boto3.client("cloudformation")
        outputs = create_stack(cfn, "dev", name="voix-rehearsal")
        # what the stack created is what the stage's variables name
        assert outputs["TableName"] == stage["TABLE_NAME"] == os.environ["TABLE_NAME"]
        assert outputs["CountersTableName"] == stage["COUNTERS_TABLE"]
        assert outputs["JobsQueueName"] == stage["JOBS_QUEUE"]
        assert outputs["InboundSmsTopicArn"].endswith(":" + stage["INBOUND_SMS_TOPIC"])
        boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
        services.reset()
        with Client(app, stage_name="dev") as client:
            response = post_sms(client, twilio_params("LEEDS queued 20 minutes, nobody at the tills, I'm leaving",
                                                      to="+447700900000"))
            assert response.status_code == 200
            assert ElementTree.fromstring(response.body).find("Message").text  # the customer's answer
            drain()
        assert [to for to, _ in sent_sms()] == ["+447700900901"]  # the alert went out
        db = boto3.client("dynamodb")
        assert db.scan(TableName=outputs["TableName"], Select="COUNT")["Count"] >= 2  # message and case
        cfn.delete_stack(StackName="voix-rehearsal")
        assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []  # queues go with the stack
        assert boto3.client("sns").list_topics()["Topics"] == []
        # the tables are kept (DeletionPolicy: Retain): a stack deletion never deletes customer data
        assert set(db.list_tables()["TableNames"]) == {outputs["TableName"], outputs["CountersTableName"]}
        services.reset()


def test_publish_dashboard_uploads_every_file_with_its_type():
    from infra.deploy import publish_dashboard

    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="dash", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        keys = publish_dashboard(s3, "dash")
        assert {"index.html", "app.js", "style.css"} <= set(keys) and any(k.startswith("vendor/") for k in keys)
        assert {"locales/en.json", "locales/fr.json", "panels/chart.js"} <= set(keys)  # the server's catalogues too
        assert s3.head_object(Bucket="dash", Key="locales/fr.json")["ContentType"] == "application/json"
        head = s3.head_object(Bucket="dash", Key="index.html")
        assert head["ContentType"] == "text/html; charset=utf-8" and head["CacheControl"] == "no-cache"
        assert s3.head_object(Bucket="dash", Key="app.js")["ContentType"].endswith("javascript; charset=utf-8")


def test_deploy_stack_passes_the_template_by_url_and_refuses_a_stack_it_cannot_update():
    import pytest
    import yaml

    from infra.deploy import deploy_stack, upload_template

    template = {"Parameters": {"Stage": {"Type": "String"}},
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "voix-x-jobs"}}},
                "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}
    body = yaml.safe_dump(template) + "# " + "padding " * 8000  # over the 51,200 bytes of an inline template
    with mock_aws():
        s3, cfn = boto3.client("s3"), boto3.client("cloudformation")
        s3.create_bucket(Bucket="artefacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        url = upload_template(s3, "artefacts", "dev", body)
        assert url.startswith("https://artefacts.s3.eu-west-2.amazonaws.com/voix/dev/") and url.endswith(".yaml")
        assert len(body) > 51_200
        deploy_stack(cfn, "voix-x", url, "dev")  # (moto gives a change set's stack no outputs)
        assert cfn.describe_stacks(StackName="voix-x")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        assert boto3.client("sqs").get_queue_url(QueueName="voix-x-jobs")["QueueUrl"]  # built from the URL
        stacks = {"Stacks": [{"StackStatus": "ROLLBACK_COMPLETE"}]}
        cfn.describe_stacks = lambda **kwargs: stacks  # as after a failed first deploy
        with pytest.raises(SystemExit, match="delete it"):
            deploy_stack(cfn, "voix-x", url, "dev")


def on_failure_record(sns_event: dict, request_id: str = "e4b46cbf-b738-4f5c-8880-a18cdf61200e") -> dict:
    """Lambda's invocation record for an asynchronous invocation that failed, as AWS documents it
    (Lambda developer guide, "Capturing records of Lambda asynchronous invocations")."""
    return {
        "version": "1.0", "timestamp": "2026-11-28T07:16:05.568Z",
        "requestContext": {
            "requestId": request_id, "condition": "RetriesExhausted", "approximateInvokeCount": 3,
            "functionArn": "arn:aws:lambda:eu-west-2:123456789012:function:voix-dev-InboundSms-x1:$LATEST"},
        "requestPayload": sns_event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "DynamoDB put_item failed: ProvisionedThroughputExceededException",
                            "errorType": "StorageError", "requestId": request_id, "stackTrace": []},
    }


def test_an_sms_the_inbound_function_gave_up_on_waits_in_its_on_failure_queue_and_is_replayed():
    """The rehearsal of finding 8: the stack's on-failure queue takes Lambda's record of an End User Messaging
    SMS that failed after its retries; `make replay-failed` publishes it to the topic again, and the inbound
    SMS function (fed by the topic, as SNS feeds it) stores and answers it. A record of another shape stays."""
    import io

    from app import inbound_sms
    from chalicelib import services
    from infra.local_worker import drain_sns_queue, sns_event
    from infra.replay_failed import main as replay_failed
    from tests.conftest import table_items
    from tests.test_end_user_messaging import eum_payload

    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation"), "dev", name="voix-rehearsal")
        sqs, sns = boto3.client("sqs"), boto3.client("sns")
        failed = outputs["InboundSmsFailedQueueUrl"]
        assert failed.endswith("/voix-dev-inbound-sms-failed")
        attributes = sqs.get_queue_attributes(QueueUrl=failed, AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == "1209600" and attributes["SqsManagedSseEnabled"] == "true"
        # what SNS delivers to the function, buffered the way the local stack feeds it
        buffer = sqs.create_queue(QueueName="voix-dev-inbound-local")["QueueUrl"]
        buffer_arn = sqs.get_queue_attributes(QueueUrl=buffer, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = outputs["InboundSmsTopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=buffer_arn)
        event = sns_event({"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                           "TopicArn": topic, "Message": eum_payload(), "Timestamp": "2026-11-28T07:10:00.000Z"},
                          subscription_arn=f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55")
        sqs.send_message(QueueUrl=failed, MessageBody=json.dumps(on_failure_record(event)))
        sqs.send_message(QueueUrl=failed, MessageBody=json.dumps({"requestContext": {}, "requestPayload": "?"}))
        services.reset()

        listing = io.StringIO()
        assert replay_failed(["--stage", "dev", "--dry-run"], out=listing) == 0
        assert "would replay 1 SMS of request e4b46cbf" in listing.getvalue()
        assert drain_sns_queue(sqs, buffer, inbound_sms) == 0  # a dry run publishes nothing...
        report = io.StringIO()
        assert replay_failed(["--stage", "dev"], out=report) == 1  # ...and left both records: one is unreadable
        assert "1 record(s) replayed (1 SMS), 1 left" in report.getvalue()
        assert drain_sns_queue(sqs, buffer, inbound_sms, subscription_arn=topic) == 1
        [message] = table_items("MSG#")
        assert message["channel"] == "eum" and message["site"] == "line-12" and message["reply_status"] == "sent"
        # the replayed record is gone; the unreadable one is still there, as it was
        [left] = sqs.receive_message(QueueUrl=failed, MaxNumberOfMessages=10)["Messages"]
        assert json.loads(left["Body"]) == {"requestContext": {}, "requestPayload": "?"}
        services.reset()


def test_a_first_deploy_needs_the_dashboard_s_domain_and_certificate_and_later_ones_keep_them():
    import pytest
    import yaml

    from infra.deploy import deploy_stack, upload_template

    template = {"Parameters": {"Stage": {"Type": "String"}, "DashboardDomainName": {"Type": "String"},
                               "DashboardCertificateArn": {"Type": "String"}},
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                        "Properties": {"QueueName": {"Fn::Sub": "q-${DashboardDomainName}"}}}}}
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    with mock_aws():
        s3, cfn = boto3.client("s3"), boto3.client("cloudformation")
        s3.create_bucket(Bucket="artefacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        url = upload_template(s3, "artefacts", "dev", yaml.safe_dump(template))
        with pytest.raises(SystemExit, match="DASHBOARD_CERTIFICATE_ARN, DASHBOARD_DOMAIN"):
            deploy_stack(cfn, "voix-y", url, "dev", {"DashboardDomainName": None, "DashboardCertificateArn": None})
        with pytest.raises(cfn.exceptions.ClientError):  # nothing was created
            cfn.describe_stacks(StackName="voix-y")
        deploy_stack(cfn, "voix-y", url, "dev", {"DashboardDomainName": "voix-example-com",
                                                 "DashboardCertificateArn": certificate})
        parameters = {p["ParameterKey"]: p["ParameterValue"]
                      for p in cfn.describe_stacks(StackName="voix-y")["Stacks"][0]["Parameters"]}
        assert parameters == {"Stage": "dev", "DashboardDomainName": "voix-example-com",
                              "DashboardCertificateArn": certificate}
        assert boto3.client("sqs").get_queue_url(QueueName="q-voix-example-com")["QueueUrl"]
        template["Resources"]["Other"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "other"}}
        url = upload_template(s3, "artefacts", "dev", yaml.safe_dump(template))
        deploy_stack(cfn, "voix-y", url, "dev", {"DashboardDomainName": None, "DashboardCertificateArn": None})
        kept = {p["ParameterKey"]: p["ParameterValue"]
                for p in cfn.describe_stacks(StackName="voix-y")["Stacks"][0]["Parameters"]}
        assert kept == parameters  # an update without them keeps the stack's values
        assert boto3.client("sqs").get_queue_url(QueueName="other")["QueueUrl"]  # and the update ran
