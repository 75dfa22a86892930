"""SES receiving's receipt rules, one per site with e-mail addresses and one for the central address.

The addresses are the configuration's (``Site.email_addresses``, ``Deployment.central_email``: the shipped
files, or the folder named by ``VOIX_CONFIG_DIR``), read when the template is made: by ``make package`` for the
cloud, by :func:`infra.resources.create_stack` for the local stack and the rehearsal (moto). An address added
later through the live configuration receives mail after the next ``make package`` and ``make deploy``.

Every rule has one action: SES stores the whole mail under ``inbound/`` in ``InboundEmailBucket`` (S3 action,
mail up to 30 MB) and notifies ``InboundEmailTopic``, whose function reads the object. An SNS action, which
carries the mail in the notification, is limited to 150 KB and *bounces* a larger mail, and SES cannot choose an
action by the mail's size: storing every mail is the one way that loses none. Each rule scans for spam and
viruses (the verdicts the function checks) and takes mail over TLS only.

SES limits: 100 recipients a rule, 200 rules a rule set; beyond them the template is refused here, not by SES.
"""

from __future__ import annotations

import re
from typing import Any

MAX_RECIPIENTS = 100
MAX_RULES = 200
RULE_SET_RESOURCE = "InboundEmailRuleSet"
CONDITION = "ReceivesEmail"


def recipients(config: Any) -> list[tuple[str, list[str]]]:
    """(rule name's end, its recipients, lower-cased): one per site with addresses, in the configuration's order,
    then ``central`` for the central address."""
    rules = []
    for site in config.sites:
        addresses = sorted({str(a).lower() for a in getattr(site, "email_addresses", None) or ()})
        if addresses:
            rules.append((f"site-{site.id}".rstrip("-"), addresses))
    central = getattr(config.deployment, "central_email", None)
    if central:
        rules.append(("central", [str(central).lower()]))
    if len(rules) > MAX_RULES:
        raise SystemExit(f"{len(rules)} receipt rules: SES takes at most {MAX_RULES} in a rule set")
    for name, addresses in rules:
        if len(addresses) > MAX_RECIPIENTS:
            raise SystemExit(f"receipt rule {name}: {len(addresses)} addresses, SES takes at most {MAX_RECIPIENTS}")
    return rules


def _logical_id(name: str) -> str:
    return "InboundEmailRule" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name))


def receipt_rules(config: Any) -> dict[str, dict]:
    """The template's AWS::SES::ReceiptRule resources, in order: each placed after the one before it (``After``,
    and created after it: SES takes one rule at a time), and after the policies that let SES store and publish
    (SES checks them when the rule is created)."""
    resources: dict[str, dict] = {}
    previous: tuple[str, str] | None = None
    for name, addresses in recipients(config):
        rule_name = {"Fn::Sub": f"voix-${{Stage}}-{name}"}
        properties: dict[str, Any] = {
            "RuleSetName": {"Ref": RULE_SET_RESOURCE},
            "Rule": {
                "Name": rule_name, "Enabled": True, "Recipients": addresses,
                "ScanEnabled": True, "TlsPolicy": "Require",
                "Actions": [{"S3Action": {"BucketName": {"Ref": "InboundEmailBucket"}, "ObjectKeyPrefix": "inbound/",
                                          "TopicArn": {"Ref": "InboundEmailTopic"}}}]}}
        depends = ["InboundEmailBucketPolicy", "InboundEmailTopicPolicy"]
        if previous:
            properties["After"] = {"Fn::Sub": f"voix-${{Stage}}-{previous[1]}"}
            depends.append(previous[0])
        logical = _logical_id(name)
        if logical in resources:
            raise SystemExit(f"two receipt rules named {logical}")
        resources[logical] = {"Type": "AWS::SES::ReceiptRule", "Condition": CONDITION, "DependsOn": depends,
                              "Properties": properties}
        previous = (logical, name)
    return resources


def add_receipt_rules(template: dict, config: Any | None = None) -> dict:
    """The template with the configuration's receipt rules added (a new dict; the rule set is the template's)."""
    if config is None:
        from chalicelib.config_loader import load_config

        config = load_config()
    rules = receipt_rules(config)
    overlap = set(rules) & set(template["Resources"])
    if overlap:
        raise SystemExit(f"the template already defines {sorted(overlap)}")
    return {**template, "Resources": {**template["Resources"], **rules}}
