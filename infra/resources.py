"""Create the resources of ``infra/template.yaml`` through CloudFormation (moto locally)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("template.yaml")


def create_stack(cloudformation: Any, stage: str = "dev", name: str | None = None) -> dict[str, str]:
    """Create the stack and return its outputs (TableName, JobsQueueUrl, ...)."""
    stack = name or f"voix-{stage}-data"
    cloudformation.create_stack(
        StackName=stack, TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
    )
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack} is {described['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
