"""What moto's CloudFormation cannot create, taught to it, so that ``infra/template.yaml`` is created whole in
moto (the local stack, the ``aws`` fixture, the rehearsal) as CloudFormation creates it in the cloud.

moto 5 skips, with a warning, a resource type it has no model for: SES receipt rule sets and rules, S3 bucket
policies and SNS topic policies among them. Each class below is such a model, created and deleted through moto's
own backends (``create_receipt_rule`` checks, as SES does, that the rule's bucket and topic exist); moto finds a
model among ``CloudFormationModel``'s subclasses, whose list it caches: :func:`apply` defines them and clears it.
One difference: a bucket policy's conditional Deny statements are left out in moto, which would apply them
unconditionally (the packaged template's are checked by tests/test_deploy_package.py).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    class ReceiptRuleSet(CloudFormationModel):
        def __init__(self, name: str) -> None:
            self.name = name

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "RuleSetName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SES::ReceiptRuleSet"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                            region_name: str, **kwargs: Any) -> ReceiptRuleSet:
            name = cloudformation_json["Properties"].get("RuleSetName") or resource_name
            _ses(account_id, region_name).create_receipt_rule_set(name)
            return cls(name)

        def delete(self, account_id: str, region_name: str) -> None:
            _ses(account_id, region_name).delete_receipt_rule_set(self.name)

    class ReceiptRule(CloudFormationModel):
        def __init__(self, rule_set: str, name: str) -> None:
            self.rule_set, self.name = rule_set, name

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SES::ReceiptRule"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                            region_name: str, **kwargs: Any) -> ReceiptRule:
            properties = cloudformation_json["Properties"]
            rule = dict(properties["Rule"])
            _ses(account_id, region_name).create_receipt_rule(properties["RuleSetName"], rule, properties.get("After"))
            return cls(properties["RuleSetName"], rule["Name"])

        def delete(self, account_id: str, region_name: str) -> None:
            rule_set = _ses(account_id, region_name).receipt_rule_set.get(self.rule_set)
            if rule_set is not None:
                rule_set.rules = [r for r in rule_set.rules if r["Name"] != self.name]

    class BucketPolicy(CloudFormationModel):
        def __init__(self, bucket: str) -> None:
            self.bucket = bucket

        @property
        def physical_resource_id(self) -> str:
            return self.bucket

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                            region_name: str, **kwargs: Any) -> BucketPolicy:
            properties = cloudformation_json["Properties"]
            document = dict(properties["PolicyDocument"])
            # moto checks a bucket's Deny statements on every object request but reads no condition: the cloud's
            # HttpsOnly deny (aws:SecureTransport false) would refuse every request. Conditional denies are left out
            document["Statement"] = [s for s in document["Statement"]
                                     if s.get("Effect") != "Deny" or "Condition" not in s]
            _s3(account_id, region_name).put_bucket_policy(properties["Bucket"], json.dumps(document).encode())
            return cls(properties["Bucket"])

        def delete(self, account_id: str, region_name: str) -> None:
            with contextlib.suppress(Exception):  # the bucket went first: nothing left to delete
                _s3(account_id, region_name).delete_bucket_policy(self.bucket)

    class TopicPolicy(CloudFormationModel):
        def __init__(self, topics: list[str]) -> None:
            self.topics = topics

        @property
        def physical_resource_id(self) -> str:
            return ",".join(self.topics)

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::TopicPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                            region_name: str, **kwargs: Any) -> TopicPolicy:
            from moto.sns.models import sns_backends

            properties = cloudformation_json["Properties"]
            for topic in properties["Topics"]:
                sns_backends[account_id][region_name].set_topic_attribute(
                    topic, "policy", json.dumps(properties["PolicyDocument"]))
            return cls(list(properties["Topics"]))

        def delete(self, account_id: str, region_name: str) -> None:
            pass  # the policy goes with its topic

    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
    _applied = True


def _ses(account_id: str, region_name: str) -> Any:
    from moto.ses.models import ses_backends

    return ses_backends[account_id][region_name]


def _s3(account_id: str, region_name: str) -> Any:
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    return s3_backends[account_id][get_partition(region_name)]
