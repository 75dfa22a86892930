"""`make deploy STAGE=prod`: deploy the packaged stack to your AWS account, then publish the dashboard.

Needs AWS credentials (the usual AWS_PROFILE / environment), an S3 bucket for the Lambda
artefact (ARTIFACT_BUCKET, in the same region) and, on the first deploy, the dashboard's domain and its
ACM certificate in us-east-1 (DASHBOARD_DOMAIN, DASHBOARD_CERTIFICATE_ARN; later deploys keep them). Steps:

1. ``make package`` has written ``out/<stage>/sam.yaml`` and ``deployment.zip`` (cfn-lint clean);
2. the zip goes to ``s3://$ARTIFACT_BUCKET/voix/<stage>/<sha256>.zip``, the template points at it
   and goes there too (it is over CloudFormation's 51,200-byte limit for an inline template);
3. CloudFormation creates or updates the stack ``voix-<stage>`` (change set, SAM transform, IAM);
4. the dashboard's files are uploaded to the stack's private bucket and CloudFront's cache is
   invalidated; the stack's outputs (API URL, dashboard URL, alarm topic) are printed;
5. with EMAIL_RECEIVING=true, SES receiving's rule set is made the active one (SES has one per region:
   another already active is left so unless ACTIVATE_RULE_SET=1).

Not run in CI (nothing here can reach AWS); ``tests/test_deploy_package.py`` checks the package
and ``publish_dashboard`` is tested against moto's S3.
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = {".html": "no-cache", ".js": "no-cache", ".css": "no-cache", ".json": "no-cache"}  # small files, always fresh


def upload_artefact(s3: Any, bucket: str, stage: str, zip_path: Path) -> str:
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()[:16]
    key = f"voix/{stage}/{digest}.zip"
    s3.upload_file(str(zip_path), bucket, key)
    return f"s3://{bucket}/{key}"


def upload_template(s3: Any, bucket: str, stage: str, body: str) -> str:
    """The template next to the zip: CloudFormation takes at most 51,200 bytes inline, and ours is larger."""
    key = f"voix/{stage}/{hashlib.sha256(body.encode()).hexdigest()[:16]}.yaml"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/yaml")
    region = s3.meta.region_name
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def point_at(template_path: Path, code_uri: str) -> str:
    template = yaml.safe_load(template_path.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
    return yaml.safe_dump(template, sort_keys=False)


UNUSABLE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS", "DELETE_FAILED"}


# Parameters the template needs from the operator: given once (environment variable), then kept
OPERATOR_PARAMETERS = {"DashboardDomainName": "DASHBOARD_DOMAIN",
                       "DashboardCertificateArn": "DASHBOARD_CERTIFICATE_ARN"}


OPTIONAL_PARAMETERS = {"LogRetentionDays": "LOG_RETENTION_DAYS", "ApiDomainName": "API_DOMAIN",
                       "ApiCertificateArn": "API_CERTIFICATE_ARN"}


def optional_parameters() -> dict[str, str]:
    """Parameters with a default, given only when set (on every deploy: one not given takes its default again):
    LOG_RETENTION_DAYS (the functions' logs, default 90), API_DOMAIN and API_CERTIFICATE_ARN (the API's own
    TLS 1.2 domain, which switches the execute-api endpoint off; default none)."""
    return {name: os.environ[variable] for name, variable in OPTIONAL_PARAMETERS.items() if os.environ.get(variable)}


def deploy_stack(cfn: Any, stack: str, template_url: str, stage: str,
                 parameters: dict[str, str | None] | None = None) -> dict[str, str]:
    """``parameters``: template parameters beyond Stage; one given as None keeps the stack's current value."""
    parameters = parameters or {}
    exists, current = True, set()
    try:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except cfn.exceptions.ClientError:
        exists = False
    else:
        status = described["StackStatus"]
        current = {p["ParameterKey"] for p in described.get("Parameters", [])}
        if status in UNUSABLE:  # a first deploy that failed: CloudFormation cannot update it
            raise SystemExit(
                f"stack {stack} is {status} after a failed first deploy: delete it (aws cloudformation "
                f"delete-stack --stack-name {stack}), and the empty tables voix-{stage} and voix-{stage}-counters "
                "it kept (they are retained so that data is never lost), then deploy again")
    missing = sorted(OPERATOR_PARAMETERS.get(k, k) for k, v in parameters.items() if not v and k in OPERATOR_PARAMETERS)
    # a kept parameter the stack does not have yet (a first deploy, or a parameter this version added) takes the
    # template's default: CloudFormation refuses UsePreviousValue for it
    parameters = {k: v for k, v in parameters.items() if v or k in OPERATOR_PARAMETERS or k in current}
    if missing and not exists:
        raise SystemExit(f"a first deploy needs {', '.join(missing)} (the dashboard's domain, and its ACM certificate "
                         "in us-east-1: CloudFront serves it over TLS 1.2 or later only; see docs/deploy.md)")
    values = [{"ParameterKey": "Stage", "ParameterValue": stage}] + [
        {"ParameterKey": k, "ParameterValue": v} if v else {"ParameterKey": k, "UsePreviousValue": True}
        for k, v in parameters.items()]
    name = f"voix-{int(time.time())}"
    cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateURL=template_url,
                          ChangeSetType="UPDATE" if exists else "CREATE", Parameters=values,
                          Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=stack, ChangeSetName=name)
    except Exception as exc:  # "no changes" ends here too
        reason = cfn.describe_change_set(StackName=stack, ChangeSetName=name).get("StatusReason", "")
        if "didn't contain changes" not in reason and "No updates" not in reason:
            raise SystemExit(f"change set failed: {reason or exc}") from exc
        print("the stack is up to date")
    else:
        cfn.execute_change_set(StackName=stack, ChangeSetName=name)
        cfn.get_waiter("stack_update_complete" if exists else "stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 10, "MaxAttempts": 180})
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


# Kept from one deploy to the next once given (like the operator's), defaulting to the template's on the first
KEPT_PARAMETERS = {"EmailReceiving": "EMAIL_RECEIVING", "InboundEmailRetentionDays": "INBOUND_EMAIL_RETENTION_DAYS"}


def kept_parameters() -> dict[str, str | None]:
    """EMAIL_RECEIVING=true creates SES receiving's rule set and rules (only in a region where SES receives mail,
    docs/deploy.md), =false deletes them; INBOUND_EMAIL_RETENTION_DAYS, how long SES's raw mail stays in its bucket
    (default 7). Unset, each keeps the stack's current value."""
    return {name: os.environ.get(variable) or None for name, variable in KEPT_PARAMETERS.items()}


def activate_rule_set(ses: Any, rule_set: str | None, *, replace: bool = False, out=sys.stdout) -> bool:
    """SES receives with one active receipt rule set per account and region, which CloudFormation cannot choose:
    make the stack's active. Another one already active (another stage's, another application's) is left so
    unless ``replace`` (ACTIVATE_RULE_SET=1): activating ours deactivates it. True when ours is active."""
    if not rule_set:
        print("e-mail receiving: off (EMAIL_RECEIVING=true creates the receipt rules; docs/deploy.md)", file=out)
        return False
    active = (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")
    if active == rule_set:
        print(f"e-mail receiving: rule set {rule_set} is active", file=out)
        return True
    if active and not replace:
        print(f"e-mail receiving: SES's active rule set is {active}, not {rule_set}, so no mail reaches Voix. "
              f"ACTIVATE_RULE_SET=1 make deploy makes {rule_set} active (and {active} inactive: SES has one active "
              "rule set per region); or copy its rules into the active set (docs/deploy.md)", file=out)
        return False
    ses.set_active_receipt_rule_set(RuleSetName=rule_set)
    print(f"e-mail receiving: rule set {rule_set} made active", file=out)
    return True


def deactivate_rule_set(ses: Any, stage: str, out=sys.stdout) -> bool:
    """Before EMAIL_RECEIVING=false deletes the stack's rule set: SES refuses to delete the active rule set (the
    update would fail and roll back), so ours, if active, is made inactive first. True when it was."""
    ours = f"voix-{stage}-inbound"
    if (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name") != ours:
        return False
    ses.set_active_receipt_rule_set()  # no name: no rule set active
    print(f"e-mail receiving: rule set {ours} made inactive, to be deleted", file=out)
    return True


def dashboard_files(folder: Path = ROOT / "dashboard",
                    locales: Path = ROOT / "chalicelib" / "locales") -> list[tuple[str, Path]]:
    """The dashboard's files by key: its folder, and the catalogues the server uses too, under ``locales/``."""
    files = [(p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*")) if p.is_file()]
    return files + [(f"locales/{p.name}", p) for p in sorted(locales.glob("*.json"))]


def publish_dashboard(s3: Any, bucket: str, folder: Path = ROOT / "dashboard") -> list[str]:
    """Upload every dashboard file (and the language catalogues) with its content type; returns the keys written."""
    keys = []
    for key, path in dashboard_files(folder):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type,
                      CacheControl=CACHE.get(path.suffix, "max-age=86400"))
        keys.append(key)
    return keys


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod", choices=["dev", "prod"])
    parser.add_argument("--artifact-bucket", default=os.environ.get("ARTIFACT_BUCKET"))
    args = parser.parse_args(argv)
    if not args.artifact_bucket:
        sys.exit("set ARTIFACT_BUCKET (an S3 bucket of yours, in the stack's region, for the Lambda zip)")
    out = ROOT / "out" / args.stage
    if not (out / "sam.yaml").exists():
        sys.exit(f"run `make package STAGE={args.stage}` first")
    s3, cfn = boto3.client("s3"), boto3.client("cloudformation")
    if os.environ.get("EMAIL_RECEIVING") == "false":
        deactivate_rule_set(boto3.client("ses"), args.stage)
    body = point_at(out / "sam.yaml", upload_artefact(s3, args.artifact_bucket, args.stage, out / "deployment.zip"))
    outputs = deploy_stack(cfn, f"voix-{args.stage}", upload_template(s3, args.artifact_bucket, args.stage, body),
                           args.stage, {**{k: os.environ.get(v) for k, v in OPERATOR_PARAMETERS.items()},
                                        **optional_parameters(), **kept_parameters()})
    activate_rule_set(boto3.client("ses"), outputs.get("InboundEmailRuleSetName"),
                      replace=os.environ.get("ACTIVATE_RULE_SET") == "1")
    written = publish_dashboard(s3, outputs["DashboardBucketName"])
    boto3.client("cloudfront").create_invalidation(
        DistributionId=outputs["DashboardDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())})
    print(f"dashboard: {len(written)} files published")
    for key in ("WebhookUrl", "DashboardUrl", "DashboardDistributionDomain", "AlarmTopicArn", "InboundSmsTopicArn",
                "InboundEmailTopicArn", "InboundEmailBucketName", "InboundEmailRuleSetName"):
        print(f"{key:28} {outputs.get(key, '-')}")
    print("Twilio webhook: WebhookUrl (on the dashboard's domain, through CloudFront: TLS 1.2 or later)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
