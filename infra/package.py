"""`make package STAGE=prod`: the deployable template and Lambda zip, checked.

1. Merge ``infra/template.yaml`` (data, queues, topics: also created by the local stack)
   and ``infra/cloud.yaml`` (dashboard CDN, alarms) into one merge template, its ``Stage``
   parameter defaulting to the stage packaged, with SES receiving's receipt rules for the
   configuration's addresses (``infra/email_rules.py``).
2. ``chalice package --merge-template`` into ``out/<stage>/`` (``sam.yaml``, ``deployment.zip``).
3. Finish what Chalice cannot say: the worker reports partial batch failures per record
   (``FunctionResponseTypes: ReportBatchItemFailures`` and ``SQS_PARTIAL_BATCH=true``);
   API Gateway's own answers (unknown route, throttling, its errors) are JSON in the API's
   error shape, an unknown route a 404, never a stack trace (gateway responses in the API
   definition, where cfn-lint wants them for an API defined by its OpenAPI body); the API's throttling
   (the stage's, and the webhook's and the links' own) and its access log; the inbound SMS and e-mail
   functions' asynchronous invocations end, after their retries, in an on-failure queue (SQS) each instead
   of being dropped (a queue encrypted with its inbound topic's key, which the function's role may use); the SQS
   trigger never runs more workers than the worker's reserved concurrency; each function's log group, with a
   retention (``LogRetentionDays``); the URL Twilio signs and the acknowledge links' base, on the dashboard's
   domain (CloudFront, TLS 1.2 or later), never the execute-api endpoint; every function is told SES
   receiving's bucket (``INBOUND_EMAIL_BUCKET``, a name with the account and region in it).
4. Take out of the zip what every Python Lambda runtime ships (boto3, botocore and their
   dependencies: aws-xray-sdk pulls them in), and fail if the zip is 10 MB or more.

Prints the zip's size. ``cfn-lint`` runs on the result in ``make package`` and in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from infra.email_rules import add_receipt_rules
from infra.webhook_split import split_webhook

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
MAX_ZIP_BYTES = 10 * 1024 * 1024


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as plain mappings (``!Ref x`` → ``{Ref: x}``)."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def merge_template(stage: str) -> dict:
    base, cloud = load(ROOT / "infra" / "template.yaml"), load(ROOT / "infra" / "cloud.yaml")
    merged = dict(base)
    for section in ("Parameters", "Conditions", "Resources", "Outputs"):
        overlap = set(base.get(section, {})) & set(cloud.get(section, {}))
        if overlap:
            raise SystemExit(f"infra/cloud.yaml redefines {section} {sorted(overlap)} of infra/template.yaml")
        if base.get(section) or cloud.get(section):
            merged[section] = {**base.get(section, {}), **cloud.get(section, {})}
    merged["Parameters"]["Stage"] = {**merged["Parameters"]["Stage"], "Default": stage}
    return add_receipt_rules(merged)  # SES receiving: one rule per site with addresses, and the central address


GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": {  # no such route (API Gateway's default is a confusing 403)
        "statusCode": 404, "responseTemplates": {"application/json": '{"error": "no such route"}'}},
    # not $context.error.messageString: for a bad Authorization header it quotes the header back
    "DEFAULT_4XX": {"responseTemplates": {"application/json": '{"error": "refused by the API gateway: '
                                                              '$context.error.responseType"}'}},
    "DEFAULT_5XX": {"responseTemplates": {"application/json": '{"error": "temporarily unavailable, please retry"}'}},
}


def finish_template(path: Path) -> None:
    template = load(path)
    api = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    api["x-amazon-apigateway-gateway-responses"] = GATEWAY_RESPONSES
    # the API's name is its title: one per stage, so that dev and prod in one account keep their
    # own latency figures (and alarm)
    api["info"]["title"] = f"voix-{template['Parameters']['Stage']['Default']}"
    worker = template["Resources"]["Worker"]["Properties"]
    for event in worker["Events"].values():
        if event["Type"] == "SQS":
            event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    worker["Environment"]["Variables"]["SQS_PARTIAL_BATCH"] = "true"
    reserved = worker.get("ReservedConcurrentExecutions")
    if reserved is None:
        raise SystemExit("the worker has no reserved concurrency (reserved_concurrency in .chalice/config.json)")
    for event in worker["Events"].values():
        if event["Type"] == "SQS":  # beyond its reserved concurrency the poller would be throttled, and the
            event["Properties"]["ScalingConfig"] = {"MaximumConcurrency": max(2, reserved)}  # receives count
    limit_and_log(template["Resources"]["RestAPI"])
    # Chalice names the queue and topic of its triggers by ARN, so CloudFormation does not know
    # the trigger needs them: on a first deploy it could subscribe before they exist
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        needed = {_source(e) for e in resource["Properties"].get("Events", {}).values() if e["Type"] in ("SQS", "SNS")}
        if needed:
            resource["DependsOn"] = sorted(needed | set(resource.get("DependsOn", [])))
    fail_to_queues(template)
    split_webhook(template, template["Parameters"]["Stage"]["Default"])
    serve_through_cloudfront(template)
    declare_log_groups(template)
    for resource in template["Resources"].values():  # SES receiving's bucket: its name is the stack's
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["Environment"]["Variables"]["INBOUND_EMAIL_BUCKET"] = {"Ref": "InboundEmailBucket"}
    path.write_text(yaml.safe_dump(template, sort_keys=False, width=120))


# The topic (SNS) or queue (SQS) of a trigger, by the name the template gives it, and what each SNS-triggered
# function's asynchronous invocations fall back on: its on-failure queue and that queue's key
SOURCES = {"jobs": "JobsQueue", "inbound-sms": "InboundSmsTopic", "inbound-email": "InboundEmailTopic"}
ON_FAILURE = {"InboundSmsTopic": ("InboundSmsFailedQueue", "InboundSmsKey"),
              "InboundEmailTopic": ("InboundEmailFailedQueue", "InboundEmailKey")}


def _source(event: dict) -> str:
    arn = event["Properties"]["Queue" if event["Type"] == "SQS" else "Topic"]
    name = (arn.get("Fn::Sub", "") if isinstance(arn, dict) else arn).rsplit(":", 1)[-1]  # voix-<stage>-<what>
    if name.startswith("voix-") and name.split("-", 2)[-1] in SOURCES:
        return SOURCES[name.split("-", 2)[-1]]
    raise SystemExit(f"a trigger on {arn}, which the template does not define (infra/package.py SOURCES)")


def fail_to_queues(template: dict) -> None:
    """End User Messaging SMS and SES receiving reach their functions through SNS, an asynchronous invocation:
    after Lambda's retries the event goes to the function's on-failure queue (never dropped), replayed by
    infra/replay_failed.py. Each queue is encrypted with its topic's key: Lambda sends to it with the
    function's role, which may use that key."""
    resources = template["Resources"]
    triggered = [(name, _source(event)) for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"
                 for event in r["Properties"].get("Events", {}).values() if event["Type"] == "SNS"]
    if sorted(topic for _, topic in triggered) != sorted(ON_FAILURE):
        raise SystemExit(f"SNS triggers {triggered}: each of {sorted(ON_FAILURE)} has one function")
    for name, topic in triggered:
        queue, key = ON_FAILURE[topic]
        function = resources[name]["Properties"]
        function["EventInvokeConfig"] = {
            "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [queue, "Arn"]}}}}
        role = resources[function["Role"]["Fn::GetAtt"][0]]
        role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
            {"Sid": f"{queue}Key", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
             "Resource": {"Fn::GetAtt": [key, "Arn"]}})


def serve_through_cloudfront(template: dict) -> None:
    """Twilio's webhook and the acknowledge links are the dashboard's domain (CloudFront, TLS 1.2 or later), never
    the execute-api endpoint (which takes TLS 1.0): every function is told the URL Twilio signs, and the
    worker the links' base (a function started without TWILIO_WEBHOOK_URL refuses to start)."""
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            variables["TWILIO_WEBHOOK_URL"] = {"Fn::Sub": "https://${DashboardDomainName}/sms/twilio"}
    worker = template["Resources"]["Worker"]["Properties"]["Environment"]["Variables"]
    worker["PUBLIC_API_URL"] = {"Fn::Sub": "https://${DashboardDomainName}"}
    # with the API's own domain (ApiDomainName, TLS_1_2, infra/cloud.yaml), CloudFront reaches the API through it
    # and the execute-api endpoint is switched off: nothing then answers in TLS 1.0
    template["Resources"]["RestAPI"]["Properties"]["DisableExecuteApiEndpoint"] = {"Fn::If": ["HasApiDomain", True,
                                                                                               False]}


# CloudWatch Logs' retention values (days); the functions' logs keep at most the data's own retention
LOG_RETENTION_VALUES = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                        2922, 3288, 3653)


def declare_log_groups(template: dict) -> None:
    """Each function's log group (/aws/lambda/<function>) declared with a retention, so that no function creates
    its own (never expiring): the roles have no logs:CreateLogGroup."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    data_days = int(config["environment_variables"]["RETENTION_DAYS"])
    template["Parameters"]["LogRetentionDays"] = {
        "Type": "Number", "Default": 90, "AllowedValues": [d for d in LOG_RETENTION_VALUES if d <= data_days],
        "Description": f"Days the functions' logs and the API's access log are kept (at most the data's "
                       f"{data_days}, RETENTION_DAYS)"}
    functions = [n for n, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    for name in functions:
        template["Resources"][f"{name}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{name}}}"},
                           "RetentionInDays": {"Ref": "LogRetentionDays"}}}
    template["Resources"]["ApiAccessLogs"]["Properties"]["RetentionInDays"] = {"Ref": "LogRetentionDays"}


# One JSON line per request; the route template, never the path (an acknowledge link's path is its token)
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
    "method": "$context.httpMethod", "route": "$context.resourcePath", "status": "$context.status",
    "bytes": "$context.responseLength", "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency", "error": "$context.error.responseType",
}, separators=(",", ":"))


def _throttle(path: str, method: str, rate: str, burst: str) -> dict:
    # a method setting's path has its slashes written ~1 (JSON pointer), "/*" being every route
    return {"ResourcePath": path if path == "/*" else "/" + path.replace("/", "~1"), "HttpMethod": method,
            "ThrottlingRateLimit": {"Ref": rate}, "ThrottlingBurstLimit": {"Ref": burst}}


def limit_and_log(api: dict) -> None:
    """API Gateway's throttling: the stage's, and the webhook's and the acknowledge links' own (a flood on one
    does not spend the others' budget), and its access log (CloudWatch, through the account's role)."""
    api["Properties"]["MethodSettings"] = [
        _throttle("/*", "*", "ApiRateLimit", "ApiBurstLimit"),
        _throttle("/sms/twilio", "POST", "WebhookRateLimit", "WebhookBurstLimit"),
        _throttle("/ack/{token}", "GET", "AckLinkRateLimit", "AckLinkBurstLimit"),
        _throttle("/ack/{token}", "POST", "AckLinkRateLimit", "AckLinkBurstLimit"),
    ]
    paths = api["Properties"]["DefinitionBody"]["paths"]
    for method in paths.get("/unsubscribe/{token}", {}):  # a reply by e-mail's one-click unsubscribe link
        if method in ("get", "post"):  # (RFC 8058): the acknowledge links' budget, a link being as public
            api["Properties"]["MethodSettings"].append(
                _throttle("/unsubscribe/{token}", method.upper(), "AckLinkRateLimit", "AckLinkBurstLimit"))
    api["Properties"]["AccessLogSetting"] = {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]},
                                             "Format": ACCESS_LOG_FORMAT}
    api["DependsOn"] = sorted({"ApiGatewayAccount", *api.get("DependsOn", [])})  # the role is set first


def slim_zip(path: Path) -> tuple[int, int]:
    """Rewrite the zip without the runtime's own packages; (bytes before, bytes after)."""
    before = path.stat().st_size
    slim = path.with_suffix(".slim.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            top = info.filename.split("/")[0]
            package = top.split("-")[0] if top.endswith(".dist-info") else top
            if package in RUNTIME_PROVIDED or package.replace("python_", "") in RUNTIME_PROVIDED:
                continue
            target.writestr(info, source.read(info))
    slim.replace(path)
    return before, path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod", choices=["dev", "prod"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out or ROOT / "out" / args.stage)
    out.mkdir(parents=True, exist_ok=True)
    merge = out / "merge.yaml"
    merge.write_text(yaml.safe_dump(merge_template(args.stage), sort_keys=False, width=120))
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-2")}
    subprocess.run([str(chalice), "package", "--stage", args.stage, "--template-format", "yaml",
                    "--merge-template", str(merge), str(out)], cwd=ROOT, env=env, check=True)
    finish_template(out / "sam.yaml")
    before, after = slim_zip(out / "deployment.zip")
    print(f"{out / 'sam.yaml'}: template; {out / 'deployment.zip'}: {after / 1e6:.2f} MB "
          f"({before / 1e6:.1f} MB before leaving out what the Lambda runtime ships)")
    if after >= MAX_ZIP_BYTES:
        print(f"the deployment zip is over {MAX_ZIP_BYTES / 1e6:.0f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
