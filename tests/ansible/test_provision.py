"""provision.yml creates the SQS check queue and its dead-letter queue, here on a local moto_server, in the
roles' default region when none is given, and a second run changes nothing."""

from __future__ import annotations

import json
import sys

import boto3
import pytest

from tests.ansible.support import have_ansible, recap, run_playbook
from tests.support.moto import moto_server  # noqa: F401 - registers the fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not have_ansible(), reason="ansible-playbook is not installed in this virtualenv"),
]


def test_it_creates_the_queue_with_a_redrive_policy_to_its_dlq_and_is_idempotent(
    moto_server, tmp_path  # noqa: F811
):
    name = moto_server.unique_name("hm-prov")
    vars_file = tmp_path / "sqs.yml"
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({
        "healthmon_aws_endpoint_url": moto_server.url,
        # No healthmon_aws_region: the role's default (us-east-1) must win over group_vars/all.
        "healthmon_aws_sqs_queue_name": name,
        "healthmon_aws_sqs_max_receives": 4,
        "healthmon_aws_sqs_visibility_timeout": 75,
        "healthmon_aws_vars_file": str(vars_file),
    }))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")

    first = run_playbook("provision.yml", inventory, extra, tmp_path / "home", env=moto_server.env)
    assert recap(first.stdout, "localhost")["failed"] == 0, first.stdout[-4000:]

    sqs = boto3.client("sqs", endpoint_url=moto_server.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 4
    assert attrs["VisibilityTimeout"] == "75"
    assert attrs["MessageRetentionPeriod"] == str(24 * 3600)  # the guide's 24 h, as docs/deploy-ec2.md says
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"
    dlq_attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert dlq_attrs["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    written = vars_file.read_text()
    assert f'healthmon_sqs_queue_url: "{queue_url}"' in written
    assert 'healthmon_aws_region: "us-east-1"' in written

    second = run_playbook("provision.yml", inventory, extra, tmp_path / "home", env=moto_server.env)
    counts = recap(second.stdout, "localhost")
    assert counts["failed"] == 0, second.stdout[-4000:]
    # Nothing changes: the queues and the vars file are as the first run left them.
    assert counts["changed"] == 0, second.stdout[-4000:]
