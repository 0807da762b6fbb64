"""The template side: short-form tags and intrinsics (cfn.py), resources created in moto (aws.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.aws import LocalAws, Provisioned
from local.cfn import Resolver, ResourceValues, TemplateError, apply_globals, load_template
from tests.runner.conftest import MARKER_SECRET


def test_short_forms_globals_and_intrinsics(tmp_path: Any) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Globals:
  Function:
    Timeout: 30
    Layers: [!Ref Shared]
    Environment: {Variables: {A: global, B: global}}
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 5
      Layers: [extra]
      Environment: {Variables: {B: local}}
      Values:
        sub: !Sub "${AWS::StackName}-${Env}-${Queue.Arn}-${!Literal}"
        subvars: !Sub ["${X}/${Env}", {X: !GetAtt Queue.QueueName}]
        join: !Join [":", [!Ref Env, !Select [1, !Split [",", "x,y,z"]]]]
        cond: !If [IsProd, big, !Ref AWS::NoValue]
        notprod: !If [NotProd, yes-not-prod, no]
        zone: !Select [0, !GetAZs ""]
        list: !Ref Zones
"""
    )
    template = apply_globals(load_template(path))
    function = template["Resources"]["Fn"]["Properties"]
    assert "Globals" not in template
    assert function["Timeout"] == 5
    assert function["Layers"] == [{"Ref": "Shared"}, "extra"]  # lists: globals first
    assert function["Environment"] == {"Variables": {"A": "global", "B": "local"}}  # maps merge

    queue = ResourceValues("https://queue", {"Arn": "arn:queue", "QueueName": "q"})
    resolver = Resolver(template, {}, {"Queue": queue}, stack_name="st", region="eu-west-1")
    assert resolver.resolve(function["Values"]) == {
        "sub": "st-dev-arn:queue-${Literal}",
        "subvars": "q/dev",
        "join": "dev:y",
        "notprod": "yes-not-prod",
        "zone": "eu-west-1a",
        "list": ["a", "b"],
    }
    with pytest.raises(TemplateError, match="not one of"):
        Resolver(template, {"Env": "staging"}, stack_name="st", region="eu-west-1")


def test_provisioning_creates_what_moto_emulates_and_reports_the_rest(
    local_aws: LocalAws, provisioned: Provisioned
) -> None:
    sqs = local_aws.client("sqs")
    work = sqs.get_queue_attributes(QueueUrl=provisioned.ref("WorkQueue"), AttributeNames=["All"])[
        "Attributes"
    ]
    assert work["FifoQueue"] == "true"
    assert work["ContentBasedDeduplication"] == "true"
    assert work["VisibilityTimeout"] == "2"
    assert json.loads(work["RedrivePolicy"]) == {
        "deadLetterTargetArn": provisioned.attribute("WorkDlq", "Arn"),
        "maxReceiveCount": 2,
    }
    assert provisioned.attribute("WorkDlq", "QueueName") == "runner-tests-WorkDlq.fifo"

    dynamodb = local_aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=provisioned.ref("SeenTable"))["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=provisioned.ref("SeenTable"))["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    key_id = provisioned.ref("DataKey")
    assert local_aws.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert (
        local_aws.client("ssm").get_parameter(Name="/runner-tests/marker")["Parameter"]["Value"]
        == "stage-test"
    )
    secret = local_aws.client("secretsmanager").get_secret_value(SecretId="runner-tests/marker")
    assert secret["SecretString"] == MARKER_SECRET

    assert provisioned.skipped["WorkerRole"] == "IAM is not enforced locally"
    assert "CloudWatch" in provisioned.skipped["WorkDlqAlarm"]
    assert "LocalOnlyTopic" not in provisioned.resources  # its Condition is false
    assert set(provisioned.of_type("AWS::Serverless::Function")) == {
        "BatchFunction",
        "RetryFunction",
        "CrashFunction",
        "SlowFunction",
        "EchoFunction",
        "TickFunction",
    }
