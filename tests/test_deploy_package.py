"""The deployable package, checked offline: cfn-lint clean, least privilege, every variable set, size."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.package import load

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
# Resource "*" is allowed only where AWS has nothing narrower, each for a reason:
STAR_RESOURCE_OK = {
    "sns:Publish": "SMS to a phone number: the target is a number, not an ARN",
    "xray:PutTraceSegments": "X-Ray trace segments have no resource ARN",
    "xray:PutTelemetryRecords": "X-Ray telemetry has no resource ARN",
}
# Variables the code reads that a stage need not set, each for a reason:
OPTIONAL = {
    "JOBS_DLQ": "defaults to <JOBS_QUEUE>-dlq, the template's name",
    "JOBS_QUEUE_URL": "looked up from JOBS_QUEUE when unset",
    "REPLY_SENDER": "End User Messaging in the cloud; the local stack and the tests choose log",
    "EUM_CONFIGURATION_SET": "an optional End User Messaging configuration set",
    "SMS_SENDER_ID": "an optional alphanumeric sender for SMS alerts",
    "SQS_PARTIAL_BATCH": "set on the worker by infra/package.py (tested below)",
    "VOIX_CONFIG_DIR": "tests only: another configuration directory",
    "POWERTOOLS_METRICS_DISABLED": "the local stack only",
    "PORT": "the local stack only",
    "TWILIO_API_URL": "the local Twilio stand-in (infra/twilio_standin.py); Twilio's own API when unset",
    "TWILIO_STATUS_URL": "the webhook's URL and /status when unset (the status route is on the same domain)",
    "PUBLIC_API_URL": "set on the worker by infra/package.py (the dashboard's domain); the e-mail replies' "
                      "unsubscribe link has only its mailto: where it is unset",
    "INBOUND_EMAIL_PREFIX": "where SES receiving stores large mail in the inbound bucket: inbound/ when unset",
    "VOIX_LOCAL": "the local stack only (infra/local.py): there alone the webhook URL may be derived",
    "AWS_LAMBDA_FUNCTION_NAME": "set by Lambda itself",
    "POWERTOOLS_TRACE_DISABLED": "Powertools' own switch: traces are off unless the function has active tracing",
    "AWS_XRAY_DAEMON_ADDRESS": "set by Lambda itself on functions with active tracing",
    "VOIX_CONFIG_CHECK_SECONDS": "30 s unless set: how often a warm function asks for the configuration's version",
    "VOIX_LIVE_CONFIG": "false switches the live configuration off (the shipped files serve); on unless set",
}


@pytest.fixture(scope="module")
def packages(packaged):
    assert sorted(packaged) == sorted(STAGES)
    return packaged


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_no_error_and_no_warning(packages, stage):
    lint = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(packages[stage] / "sam.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout + lint.stderr


def statements(template):
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []):
            if isinstance(policy, dict) and "PolicyDocument" in policy:
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement
        if "PolicyDocument" in props:
            for statement in props["PolicyDocument"]["Statement"]:
                yield name, statement


@pytest.mark.parametrize("stage", STAGES)
def test_least_privilege_no_wildcard_outside_the_allowed_list(packages, stage):
    template = load(packages[stage] / "sam.yaml")
    seen = 0
    for name, statement in statements(template):
        seen += 1
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if statement["Effect"] == "Deny":
            continue  # a deny can only narrow
        for action in actions:
            assert action != "*" and not action.endswith(":*"), (name, action)
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), (name, action)
        if "*" in resources:
            assert set(actions) <= set(STAR_RESOURCE_OK), (name, actions)
        for resource in resources:
            if isinstance(resource, str) and resource != "*":
                assert f"voix-{stage}" in resource or f"/voix/{stage}/" in resource or "identity/" in resource \
                    or "phone-number/" in resource, (name, resource)
    assert seen >= 10


@pytest.mark.parametrize("stage", STAGES)
def test_every_variable_the_code_reads_is_set_on_every_function(packages, stage):
    pattern = re.compile(r"""(?:env|os\.environ\.get|os\.getenv|get_secret)\(\s*["']([A-Z0-9_]+)["']""")
    read = {m for path in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
            for m in pattern.findall(path.read_text())}
    secrets = {m for path in (ROOT / "chalicelib").rglob("*.py")
               for m in re.findall(r"get_secret\(\s*\"([A-Z0-9_]+)\"", path.read_text())}
    assert {"TABLE_NAME", "LINK_SIGNING_KEY", "OPERATOR_TOKEN_SHA256"} <= read  # the scan sees the code
    template = load(packages[stage] / "sam.yaml")
    functions = {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) >= 6
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        for variable in read - set(OPTIONAL):
            if variable in secrets:
                assert f"{variable}_PARAM" in variables and variable not in variables, (name, variable)
                assert variables[f"{variable}_PARAM"].startswith(f"/voix/{stage}/"), (name, variable)
            else:
                assert variable in variables, (stage, name, variable)
        assert variables["TABLE_NAME"] == f"voix-{stage}"


def test_the_worker_reports_partial_batch_failures_and_knows_the_api_url(packages):
    worker = load(packages["prod"] / "sam.yaml")["Resources"]["Worker"]["Properties"]
    [event] = worker["Events"].values()
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["Environment"]["Variables"]["SQS_PARTIAL_BATCH"] == "true"
    assert worker["Environment"]["Variables"]["PUBLIC_API_URL"] == {"Fn::Sub": "https://${DashboardDomainName}"}


def test_triggers_wait_for_their_queue_and_topic_which_end_user_messaging_may_publish_to(packages):
    resources = load(packages["prod"] / "sam.yaml")["Resources"]
    triggered = {name: {e["Type"] for e in r["Properties"].get("Events", {}).values()}
                 for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert "JobsQueue" in resources["Worker"]["DependsOn"]
    assert sorted(name for name, kinds in triggered.items() if "SNS" in kinds) == ["InboundEmail", "InboundSms"]
    assert "InboundSmsTopic" in resources["InboundSms"]["DependsOn"]
    assert "InboundEmailTopic" in resources["InboundEmail"]["DependsOn"]
    [statement] = resources["InboundSmsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sms-voice.amazonaws.com"} and statement["Action"] == "sns:Publish"
    assert statement["Resource"] == {"Ref": "InboundSmsTopic"}
    assert "KmsMasterKeyId" not in resources["AlarmTopic"]["Properties"]  # CloudWatch could not publish


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_stage_has_its_own_api_name_and_latency_alarm(packages, stage):
    resources = load(packages[stage] / "sam.yaml")["Resources"]
    assert resources["RestAPI"]["Properties"]["DefinitionBody"]["info"]["title"] == f"voix-{stage}"
    dimensions = resources["WebhookLatencyAlarm"]["Properties"]["Dimensions"]
    [name] = [d["Value"] for d in dimensions if d["Name"] == "ApiName"]
    assert name == {"Fn::Sub": "voix-${Stage}"}


# -- issue 20, finding 6 ----------------------------------------------------------------------------------------
def test_outside_the_local_stack_the_webhook_url_is_configuration_never_the_request_s_headers(monkeypatch):
    """Fails on the old code: with TWILIO_WEBHOOK_URL unset it checked against http://evil.example.com/..."""
    from chalicelib import webhook_url
    from chalicelib.services import Services

    forged = ({"host": "evil.example.com", "x-forwarded-proto": "http"}, {"stage": "api"}, "/sms/twilio")
    monkeypatch.delenv("TWILIO_WEBHOOK_URL")
    monkeypatch.delenv("VOIX_LOCAL", raising=False)
    with pytest.raises(RuntimeError, match="TWILIO_WEBHOOK_URL is not set"):
        Services().webhook_url_for(*forged)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "voix-prod-APIHandler-abc")
    with pytest.raises(RuntimeError, match="TWILIO_WEBHOOK_URL is not set"):
        webhook_url.require_configured()  # app.py calls it at import: the function does not start
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", "https://voix.example.com/sms/twilio")
    webhook_url.require_configured()
    assert Services().webhook_url_for(*forged) == "https://voix.example.com/sms/twilio"
    # the local stack alone may derive it (infra/local.py sets VOIX_LOCAL=1, and the URL too)
    monkeypatch.delenv("TWILIO_WEBHOOK_URL")
    monkeypatch.setenv("VOIX_LOCAL", "1")
    webhook_url.require_configured()
    assert Services().webhook_url_for({"host": "127.0.0.1:8000"}, {"stage": "api"}, "/sms/twilio") == \
        "http://127.0.0.1:8000/api/sms/twilio"
    monkeypatch.setenv("PORT", "8123")
    assert Services().twilio_webhook_url == "http://127.0.0.1:8123/sms/twilio"


def test_app_refuses_to_start_in_lambda_without_the_webhook_url():
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("TWILIO_WEBHOOK_URL", "VOIX_LOCAL")}
    run = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, capture_output=True, text=True,
                         env={**env, "AWS_LAMBDA_FUNCTION_NAME": "voix-prod-APIHandler-abc"}, timeout=60)
    assert run.returncode != 0 and "TWILIO_WEBHOOK_URL is not set" in run.stderr
    run = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, capture_output=True, text=True,
                         env={**env, "AWS_LAMBDA_FUNCTION_NAME": "x", "TWILIO_WEBHOOK_URL": "https://v.example/sms/twilio"},
                         timeout=60)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_told_the_webhook_url_on_the_dashboard_s_domain(packages, stage):
    resources = load(packages[stage] / "sam.yaml")["Resources"]
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"]["Environment"]["Variables"]["TWILIO_WEBHOOK_URL"] == \
                {"Fn::Sub": "https://${DashboardDomainName}/sms/twilio"}, name


# -- issue 20, finding 3 ----------------------------------------------------------------------------------------
def test_the_webhook_links_and_api_are_served_by_cloudfront_over_tls_1_2_only(packages):
    """Fails on the old code: only /api/* went through CloudFront; Twilio and the links used execute-api."""
    template = load(packages["prod"] / "sam.yaml")
    distribution = template["Resources"]["DashboardDistribution"]["Properties"]["DistributionConfig"]
    assert distribution["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    [api] = [o for o in distribution["Origins"] if o["Id"] == "api"]
    assert api["OriginPath"] == {"Fn::If": ["HasApiDomain", {"Ref": "AWS::NoValue"}, "/api"]}
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert api["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    behaviours = {b["PathPattern"]: b for b in distribution["CacheBehaviors"]}
    for path in ("/sms/*", "/ack/*", "/api/*"):
        behaviour = behaviours[path]
        assert behaviour["TargetOriginId"] == "api" and behaviour["ViewerProtocolPolicy"] == "https-only"
        assert "POST" in behaviour["AllowedMethods"]
        assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # never cached
    # what points at the API points at that domain, never at the execute-api endpoint (TLS 1.0)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            assert "execute-api" not in json.dumps(variables)
    assert "execute-api" not in json.dumps(template["Outputs"].get("WebhookUrl", {}))
    assert template["Outputs"]["WebhookUrl"]["Value"] == {"Fn::Sub": "https://${DashboardDomainName}/sms/twilio"}


def test_with_the_api_s_own_domain_it_is_tls_1_2_and_the_execute_api_endpoint_is_off(packages):
    """Issue 20, finding 3: given ApiDomainName (and its certificate), the API has a regional custom domain with
    security policy TLS_1_2, CloudFront's API origin is that domain, and the execute-api endpoint (TLS 1.0) is
    disabled; without it (the default), CloudFront reaches the execute-api endpoint, as above."""
    template = load(packages["prod"] / "sam.yaml")
    parameters, resources = template["Parameters"], template["Resources"]
    assert parameters["ApiDomainName"]["Default"] == "" and parameters["ApiCertificateArn"]["Default"] == ""
    assert template["Conditions"]["HasApiDomain"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiDomainName"}, ""]}]}
    domain = resources["ApiDomain"]
    assert domain["Condition"] == "HasApiDomain" and domain["Type"] == "AWS::ApiGateway::DomainName"
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    assert domain["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    mapping = resources["ApiDomainMapping"]["Properties"]
    assert mapping["RestApiId"] == {"Ref": "RestAPI"} and mapping["DomainName"] == {"Ref": "ApiDomain"}
    assert resources["RestAPI"]["Properties"]["DisableExecuteApiEndpoint"] == {"Fn::If": ["HasApiDomain", True, False]}
    distribution = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]
    [api] = [o for o in distribution["Origins"] if o["Id"] == "api"]
    assert api["DomainName"]["Fn::If"][:2] == ["HasApiDomain", {"Ref": "ApiDomainName"}]


# -- issue 20, finding 8 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_hands_the_webhook_to_its_own_function_and_every_other_route_to_the_api_s(packages, stage):
    """Fails on the old code: every route, the public webhook too, ran in APIHandler with the operator's role
    (what each role allows: tests/test_least_privilege.py)."""
    resources = load(packages[stage] / "sam.yaml")["Resources"]
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    targets = {(path, method): operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
               for path, operations in paths.items() for method, operation in operations.items()
               if "x-amazon-apigateway-integration" in operation}
    webhook = targets.pop(("/sms/twilio", "post"))
    assert "${TwilioWebhook.Arn}" in webhook and "APIHandler" not in webhook
    status = targets.pop(("/sms/twilio/status", "post"))  # its signed status callbacks (issue 21)
    assert "${TwilioWebhook.Arn}" in status and "APIHandler" not in status
    assert resources["TwilioWebhookStatusInvokePermission"]["Properties"]["SourceArn"]["Fn::Sub"][0].endswith(
        "/*/POST/sms/twilio/status")
    assert targets and all("${APIHandler.Arn}" in uri for uri in targets.values())
    permission = resources["TwilioWebhookInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "TwilioWebhook"}
    assert permission["SourceArn"]["Fn::Sub"][0].endswith("/*/POST/sms/twilio")  # that route only
    function, api = resources["TwilioWebhook"]["Properties"], resources["APIHandler"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["TwilioWebhookRole", "Arn"]} != api["Role"]
    assert (function["Handler"], function["CodeUri"]) == (api["Handler"], api["CodeUri"])
    assert resources["WebhookErrorsAlarm"]["Properties"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "TwilioWebhook"}}]


# -- issue 20, finding 4 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_its_log_group_with_a_retention_and_no_role_creates_one(packages, stage):
    """Fails on the old code: the functions' log groups were created by Lambda, never expiring."""
    template = load(packages[stage] / "sam.yaml")
    resources = template["Resources"]
    functions = {n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    groups = {r["Properties"]["LogGroupName"]["Fn::Sub"]: r["Properties"] for r in resources.values()
              if r["Type"] == "AWS::Logs::LogGroup" and "Fn::Sub" in r["Properties"]["LogGroupName"]}
    assert len(functions) == 10  # Chalice's nine and the webhook's own (infra/webhook_split.py)
    for function in functions:
        assert groups[f"/aws/lambda/${{{function}}}"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, function
    assert resources["ApiAccessLogs"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    parameter = template["Parameters"]["LogRetentionDays"]
    data_days = int(json.loads((ROOT / ".chalice" / "config.json").read_text())
                    ["environment_variables"]["RETENTION_DAYS"])
    assert parameter["Default"] == 90 and max(parameter["AllowedValues"]) <= data_days
    for name, statement in statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "logs:CreateLogGroup" not in actions, name


def test_the_zip_is_small_and_holds_the_app_not_the_sdk(packages):
    path = packages["prod"] / "deployment.zip"
    assert path.stat().st_size < 10 * 1024 * 1024
    names = zipfile.ZipFile(path).namelist()
    assert "app.py" in names and "chalicelib/config/rules.toml" in names and "pydantic/__init__.py" in names
    assert "chalicelib/model/voix-model.json" in names  # the learned model ships with the code
    assert {"chalicelib/locales/en.json", "chalicelib/locales/fr.json"} <= set(names)  # what staff read
    assert not any(n.startswith(("botocore/", "boto3/")) for n in names)


def test_the_cloud_resources_are_private_https_and_alarmed(packages):
    resources = load(packages["prod"] / "sam.yaml")["Resources"]
    bucket = resources["DashboardBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    distribution = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert all(b["ViewerProtocolPolicy"] == "https-only" for b in distribution["CacheBehaviors"])
    assert "OriginAccessControlId" in distribution["Origins"][0]
    alarms = {n for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"DeadLetterQueueAlarm", "ApiErrorsAlarm", "WorkerErrorsAlarm", "WebhookLatencyAlarm",
            "SmsSpendAlarm"} <= alarms
    for name in ("Table", "CountersTable"):
        table = resources[name]["Properties"]
        assert table["BillingMode"] == "PAY_PER_REQUEST" and table["SSESpecification"]["SSEEnabled"]
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_api_gateway_answers_unknown_routes_with_a_json_404_and_never_a_stack_trace(packages):
    api = load(packages["prod"] / "sam.yaml")["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = api["x-amazon-apigateway-gateway-responses"]
    unknown = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown["statusCode"] == 404
    assert json.loads(unknown["responseTemplates"]["application/json"]) == {"error": "no such route"}
    assert "error" in responses["DEFAULT_5XX"]["responseTemplates"]["application/json"]
    assert "error" in responses["DEFAULT_4XX"]["responseTemplates"]["application/json"]
    # messageString would quote a malformed Authorization header (the operator token) back
    assert all("messageString" not in r["responseTemplates"]["application/json"] for r in responses.values())


# -- issue 14, findings 8 and 9 -------------------------------------------------------------------------------
def test_an_inbound_sms_the_function_gives_up_on_goes_to_an_alarmed_on_failure_queue(packages):
    resources = load(packages["prod"] / "sam.yaml")["Resources"]
    config = resources["InboundSms"]["Properties"]["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2 and config["MaximumEventAgeInSeconds"] == 21600
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["InboundSmsFailedQueue", "Arn"]}}
    queue = resources["InboundSmsFailedQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": "voix-${Stage}-inbound-sms-failed"}
    # issue 20, finding 5: it holds the whole event (number, text): encrypted with the inbound topic's key, which
    # the inbound function's role (Lambda sends the record with it) may use; fails on the old code
    assert queue["KmsMasterKeyId"] == {"Ref": "InboundSmsKey"} and "SqsManagedSseEnabled" not in queue
    assert queue["MessageRetentionPeriod"] == 14 * 86400
    role = resources[resources["InboundSms"]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    [grant] = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]
               if s["Resource"] == {"Fn::GetAtt": ["InboundSmsKey", "Arn"]}]
    assert set(grant["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"} and grant["Effect"] == "Allow"
    [admin] = [s for s in resources["InboundSmsKey"]["Properties"]["KeyPolicy"]["Statement"]
               if s["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}]
    assert admin["Action"] == "kms:*"  # the key policy lets IAM policies (the role's grant above) use the key
    alarm = resources["InboundSmsFailedAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["InboundSmsFailedQueue",
                                                                                  "QueueName"]}}]
    assert alarm["Threshold"] == 0 and alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_api_is_throttled_per_stage_and_per_route_and_logs_every_request(packages):
    template = load(packages["prod"] / "sam.yaml")
    api = template["Resources"]["RestAPI"]
    settings = {(s["ResourcePath"], s["HttpMethod"]):
                (s["ThrottlingRateLimit"]["Ref"], s["ThrottlingBurstLimit"]["Ref"])
                for s in api["Properties"]["MethodSettings"]}
    assert settings == {("/*", "*"): ("ApiRateLimit", "ApiBurstLimit"),
                        ("/~1sms~1twilio", "POST"): ("WebhookRateLimit", "WebhookBurstLimit"),
                        ("/~1ack~1{token}", "GET"): ("AckLinkRateLimit", "AckLinkBurstLimit"),
                        ("/~1ack~1{token}", "POST"): ("AckLinkRateLimit", "AckLinkBurstLimit"),
                        ("/~1unsubscribe~1{token}", "GET"): ("AckLinkRateLimit", "AckLinkBurstLimit"),
                        ("/~1unsubscribe~1{token}", "POST"): ("AckLinkRateLimit", "AckLinkBurstLimit")}
    paths = api["Properties"]["DefinitionBody"]["paths"]
    assert {"post"} <= set(paths["/sms/twilio"]) and {"get", "post"} <= set(paths["/ack/{token}"])
    for name in ("ApiRateLimit", "WebhookRateLimit", "AckLinkRateLimit"):
        assert template["Parameters"][name]["Type"] == "Number"
    log = api["Properties"]["AccessLogSetting"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    fields = json.loads(log["Format"])
    assert {"requestId", "ip", "route", "status"} <= set(fields) and fields["route"] == "$context.resourcePath"
    assert "$context.path" not in log["Format"]  # an acknowledge link's path is its token
    assert "ApiGatewayAccount" in api["DependsOn"]  # the account's CloudWatch role is set before the stage
    assert template["Resources"]["ApiAccessLogs"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_worker_has_reserved_concurrency_its_queue_trigger_never_exceeds(packages, stage):
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    worker = load(packages[stage] / "sam.yaml")["Resources"]["Worker"]["Properties"]
    reserved = worker["ReservedConcurrentExecutions"]
    assert reserved == config["stages"][stage]["lambda_functions"]["worker"]["reserved_concurrency"] >= 2
    [event] = worker["Events"].values()
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": reserved}


def test_the_dashboard_is_served_on_its_own_domain_over_tls_1_2_or_later(packages):
    template = load(packages["prod"] / "sam.yaml")
    distribution = template["Resources"]["DashboardDistribution"]["Properties"]["DistributionConfig"]
    assert distribution["ViewerCertificate"] == {"AcmCertificateArn": {"Ref": "DashboardCertificateArn"},
                                                 "SslSupportMethod": "sni-only",
                                                 "MinimumProtocolVersion": "TLSv1.2_2021"}
    assert distribution["Aliases"] == [{"Ref": "DashboardDomainName"}]
    for name in ("DashboardDomainName", "DashboardCertificateArn"):
        assert "Default" not in template["Parameters"][name]  # to be given at deploy: no silent default
    assert re.fullmatch(template["Parameters"]["DashboardCertificateArn"]["AllowedPattern"],
                        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789")
    assert not re.fullmatch(template["Parameters"]["DashboardCertificateArn"]["AllowedPattern"],
                            "arn:aws:acm:eu-west-2:123456789012:certificate/0a1b2c3d")  # CloudFront: us-east-1 only


def test_the_inbound_sms_topic_is_encrypted_with_a_rotated_key_end_user_messaging_may_use(packages):
    resources = load(packages["prod"] / "sam.yaml")["Resources"]
    assert resources["InboundSmsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "InboundSmsKey"}
    key = resources["InboundSmsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [publisher] = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "sms-voice.amazonaws.com"}]
    assert set(publisher["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert publisher["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def checkov_binary() -> Path:
    """checkov lives in its own environment (.venv-checkov, made by `make install` from
    requirements-checkov.txt): it pins boto3, networkx and packaging to versions the project cannot take."""
    import os

    path = Path(os.environ.get("CHECKOV") or ROOT / ".venv-checkov" / "bin" / "checkov")
    assert path.exists(), f"checkov not found at {path}: run `make install`, or set CHECKOV to its path"
    return path


def test_checkov_finds_nothing_but_the_skips_listed_with_their_reasons(packages):
    import os

    import yaml

    skips = yaml.safe_load((ROOT / "infra" / "checkov.yaml").read_text())
    for check, skip in skips.items():
        assert len(skip["reason"]) > 40 and skip["resources"], check  # each skip says why, and where
    run = subprocess.run([str(checkov_binary()), "-f", str(packages["prod"] / "sam.yaml"), "--framework",
                          "cloudformation", "--quiet", "--compact", "--skip-download", "-o", "json"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})  # offline: no guideline download
    report = json.loads(run.stdout)
    [report] = report if isinstance(report, list) else [report]
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] >= 50, report["summary"]
    failed = {(f["check_id"], f["resource"].rsplit(".", 1)[1]) for f in report["results"]["failed_checks"]}
    allowed = {(check, resource) for check, skip in skips.items() for resource in skip["resources"]}
    assert failed - allowed == set(), "checkov findings not fixed nor listed in infra/checkov.yaml"
    assert allowed - failed == set(), "skips in infra/checkov.yaml that checkov no longer reports: remove them"


def test_make_deploy_passes_the_api_domain_and_log_retention_only_when_set(monkeypatch):
    from infra.deploy import optional_parameters

    for variable in ("LOG_RETENTION_DAYS", "API_DOMAIN", "API_CERTIFICATE_ARN"):
        monkeypatch.delenv(variable, raising=False)
    assert optional_parameters() == {}
    monkeypatch.setenv("API_DOMAIN", "api.voix.example.com")
    monkeypatch.setenv("API_CERTIFICATE_ARN", "arn:aws:acm:eu-west-2:123456789012:certificate/abc")
    assert optional_parameters() == {"ApiDomainName": "api.voix.example.com",
                                     "ApiCertificateArn": "arn:aws:acm:eu-west-2:123456789012:certificate/abc"}


# -- issue 24: the e-mail channel's cloud side ------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_the_inbound_email_function_is_wired_as_the_inbound_sms_one(packages, stage):
    """Fails on the old code: there was no InboundEmail function. SNS on the e-mail topic (created first), its
    failures in its own queue under its topic's key, told the stack's bucket (a name with the account in it)."""
    resources = load(packages[stage] / "sam.yaml")["Resources"]
    function = resources["InboundEmail"]
    properties = function["Properties"]
    [event] = properties["Events"].values()
    assert event["Type"] == "SNS" and event["Properties"]["Topic"]["Fn::Sub"].endswith(f":voix-{stage}-inbound-email")
    assert "InboundEmailTopic" in function["DependsOn"]
    assert properties["Timeout"] == 30  # a mail of up to 10 MB read from S3 and parsed (the others have 10 s)
    assert properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == \
        {"Fn::GetAtt": ["InboundEmailFailedQueue", "Arn"]}
    variables = properties["Environment"]["Variables"]
    assert variables["INBOUND_EMAIL_TOPIC"] == f"voix-{stage}-inbound-email" and variables["INBOUND_EMAIL_PREFIX"] == \
        "inbound/"
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"]["Environment"]["Variables"]["INBOUND_EMAIL_BUCKET"] == \
                {"Ref": "InboundEmailBucket"}, name
    assert resources["InboundEmailFailedQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "InboundEmailKey"}
    alarm = resources["InboundEmailFailedAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["InboundEmailFailedQueue", "QueueName"]}


def test_ses_alone_stores_and_publishes_the_inbound_mail_for_this_account_s_rules(packages):
    """The bucket: encrypted, never public, HTTPS only, its raw mail expired; SES may put objects under inbound/
    only for this account's rule set; the topic is under its own rotated key, which SES may use to publish."""
    template = load(packages["prod"] / "sam.yaml")
    resources = template["Resources"]
    bucket = resources["InboundEmailBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == \
        {"SSEAlgorithm": "AES256"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [expiry] = [r for r in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert expiry["Prefix"] == "inbound/" and expiry["ExpirationInDays"] == {"Ref": "InboundEmailRetentionDays"}
    # an erased customer's raw mail stays at most a day (review of issue 24; it was 7)
    assert template["Parameters"]["InboundEmailRetentionDays"]["Default"] == 1
    rule_set_arn = ("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/voix-${Stage}-inbound"
                    ":receipt-rule/*")
    statements = resources["InboundEmailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [store] = [s for s in statements if s["Effect"] == "Allow"]
    assert store["Principal"] == {"Service": "ses.amazonaws.com"} and store["Action"] == "s3:PutObject"
    assert store["Resource"] == {"Fn::Sub": "${InboundEmailBucket.Arn}/inbound/*"}
    assert store["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                  "ArnLike": {"aws:SourceArn": {"Fn::Sub": rule_set_arn}}}
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
    [publish] = resources["InboundEmailTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert publish["Principal"] == {"Service": "ses.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert publish["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::Sub": rule_set_arn}}
    assert resources["InboundEmailTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "InboundEmailKey"}
    key = resources["InboundEmailKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [ses] = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "ses.amazonaws.com"}]
    assert set(ses["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    # receiving only where asked (a region without SES receiving still deploys); the rule set then made active
    assert template["Parameters"]["EmailReceiving"]["Default"] == "false"
    assert resources["InboundEmailRuleSet"]["Condition"] == "ReceivesEmail"
    assert template["Outputs"]["InboundEmailRuleSetName"]["Condition"] == "ReceivesEmail"
    # the configuration's addresses are the rules' (infra/email_rules.py)
    from chalicelib.config_loader import load_config
    from infra.email_rules import receipt_rules

    rules = {n: r for n, r in resources.items() if r["Type"] == "AWS::SES::ReceiptRule"}
    assert rules == receipt_rules(load_config())
    # a reply by e-mail's unsubscribe link reaches the API through CloudFront, like the acknowledge links
    distribution = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]
    [unsubscribe] = [b for b in distribution["CacheBehaviors"] if b["PathPattern"] == "/unsubscribe/*"]
    assert unsubscribe["TargetOriginId"] == "api" and "POST" in unsubscribe["AllowedMethods"]


def test_receipt_rules_for_sites_and_the_central_address_pass_cfn_lint(packages, tmp_path):
    """The rules of a configuration with addresses (the shipped one may have none), in the packaged template."""
    import yaml

    from infra.email_rules import receipt_rules
    from tests.test_email_infra import SITES

    template = load(packages["prod"] / "sam.yaml")
    template["Resources"].update(receipt_rules(SITES))
    path = tmp_path / "sam.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False, width=120))
    lint = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(path)],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout + lint.stderr
