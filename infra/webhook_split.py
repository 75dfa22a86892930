"""The public Twilio webhook in its own function and role (issue 20, finding 8).

Chalice puts every route in one function (``APIHandler``) with one role: the operator API's, which may
erase (delete, batch-write) and read every secret. ``make package`` splits the webhook off after
``chalice package``: a second function, ``TwilioWebhook``, of the same code and handler (Chalice's app
answers whichever route API Gateway hands it), with its own role
(``.chalice/policy-<stage>-twilio-webhook.json``: what ingest calls, nothing of the operator API; the secrets'
paths are in its variables as in every function's, but only the webhook's secrets are readable), an alarm on
its errors, and API Gateway's ``POST /sms/twilio`` integration pointed at it. ``chalice local`` (the local
stack) keeps one process serving every route, as before.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTION, ROLE, ROUTE = "TwilioWebhook", "TwilioWebhookRole", "/sms/twilio"
STATUS_ROUTE = "/sms/twilio/status"  # Twilio's signed status callbacks of staff replies (issue 21): the same role


def split_webhook(template: dict, stage: str) -> None:
    resources = template["Resources"]
    api = resources["APIHandler"]
    api_role = api["Properties"]["Role"]["Fn::GetAtt"][0]
    webhook = copy.deepcopy(api)
    webhook["Properties"]["Role"] = {"Fn::GetAtt": [ROLE, "Arn"]}
    resources[FUNCTION] = webhook
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}-twilio-webhook.json").read_text())
    resources[ROLE] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": copy.deepcopy(resources[api_role]["Properties"]["AssumeRolePolicyDocument"]),
        "Policies": [{"PolicyName": f"{ROLE}Policy", "PolicyDocument": policy}]}}
    # its failures alarm like the operator API's (ApiErrorsAlarm watches APIHandler only)
    alarm = copy.deepcopy(resources["ApiErrorsAlarm"])
    alarm["Properties"]["AlarmDescription"] = "The Twilio webhook's Lambda failed"
    alarm["Properties"]["Dimensions"] = [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    resources["WebhookErrorsAlarm"] = alarm
    for route, permission in ((ROUTE, "InvokePermission"), (STATUS_ROUTE, "StatusInvokePermission")):
        operation = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"][route]["post"]
        operation["x-amazon-apigateway-integration"]["uri"] = {"Fn::Sub": (
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            f"${{{FUNCTION}.Arn}}/invocations")}
        resources[f"{FUNCTION}{permission}"] = {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": FUNCTION},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": ["arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                                      f"${{RestAPIId}}/*/POST{route}", {"RestAPIId": {"Ref": "RestAPI"}}]}}}
