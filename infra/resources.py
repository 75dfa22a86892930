"""Create the resources of ``infra/template.yaml`` through CloudFormation (moto locally).

The template is created whole, as in the cloud: SES receiving's rule set and the configuration's receipt rules
(``infra/email_rules.py``) included, moto being taught the types its CloudFormation lacks (``infra/moto_cfn.py``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).with_name("template.yaml")


def template_body(config: Any | None = None) -> str:
    """``infra/template.yaml`` with the receipt rules of the configuration (the files' unless given)."""
    if config is None:  # the files': read again only when they (or the template) changed
        from chalicelib.config_loader import DEFAULT_CONFIG_DIR

        folder = Path(os.environ.get("VOIX_CONFIG_DIR") or DEFAULT_CONFIG_DIR)
        stamps = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.toml")))
        return _body_of_files(str(folder), stamps, TEMPLATE.stat().st_mtime_ns)
    return _body(config)


def _body(config: Any | None) -> str:
    from infra.email_rules import add_receipt_rules

    return yaml.safe_dump(add_receipt_rules(yaml.safe_load(TEMPLATE.read_text()), config), sort_keys=False)


@functools.lru_cache(maxsize=8)
def _body_of_files(folder: str, stamps: tuple, template_stamp: int) -> str:
    from chalicelib.config_loader import load_config

    return _body(load_config(folder))


def create_stack(cloudformation: Any, stage: str = "dev", name: str | None = None,
                 config: Any | None = None) -> dict[str, str]:
    """Create the stack and return its outputs (TableName, JobsQueueUrl, ...)."""
    from infra import moto_cfn

    moto_cfn.apply()
    stack = name or f"voix-{stage}-data"
    cloudformation.create_stack(
        StackName=stack, TemplateBody=template_body(config),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage},
                    {"ParameterKey": "EmailReceiving", "ParameterValue": "true"}],
    )
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack} is {described['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
