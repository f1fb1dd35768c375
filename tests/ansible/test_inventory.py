"""inventory/aws_ec2.yml turns the instances provision.yml launches into the groups site.yml and
group_vars/all use, here against EC2 instances on a local moto_server."""

from __future__ import annotations

import json
import os
import subprocess

import boto3
import pytest

from tests.ansible.support import ANSIBLE_DIR, BIN, have_ansible
from tests.support.moto import moto_server  # noqa: F401 - registers the fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not have_ansible(), reason="ansible-inventory is not installed in this virtualenv"),
]

yaml = pytest.importorskip("yaml")
INVENTORY = ANSIBLE_DIR / "inventory" / "aws_ec2.yml"
AWS_ROLE_DEFAULTS = yaml.safe_load((ANSIBLE_DIR / "roles" / "healthmon_aws" / "defaults" / "main.yml").read_text())


def _launch(ec2, name: str, tags: dict[str, str]) -> None:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small", TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in {"Name": name, **tags}.items()],
    }])


def test_the_instances_land_in_the_groups_of_their_healthmon_services_tag(moto_server, tmp_path):  # noqa: F811
    region = yaml.safe_load(INVENTORY.read_text())["regions"][0]
    assert region == AWS_ROLE_DEFAULTS["healthmon_aws_region"]
    ec2 = boto3.client("ec2", endpoint_url=moto_server.url, region_name=region,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    tags = AWS_ROLE_DEFAULTS["healthmon_aws_tags"]
    for name, services in AWS_ROLE_DEFAULTS["healthmon_aws_ec2_instances"].items():  # what provision.yml launches
        _launch(ec2, name, {**tags, "healthmon_services": services})
    _launch(ec2, "someone-elses-box", {"Application": "other"})

    env = {**os.environ, **moto_server.env, "AWS_URL": moto_server.url, "ANSIBLE_HOME": str(tmp_path),
           "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"], cwd=ANSIBLE_DIR,
                          env=env, capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    inventory = json.loads(proc.stdout)

    def hosts(group):
        return sorted(inventory.get(group, {}).get("hosts", []))

    assert hosts("healthmon") == ["healthmon-api-1", "healthmon-checker-1"]
    assert hosts("healthmon_api") == ["healthmon-api-1"]
    assert hosts("healthmon_scheduler") == ["healthmon-api-1"]
    assert hosts("healthmon_checker") == ["healthmon-checker-1"]
    assert "someone-elses-box" not in inventory["_meta"]["hostvars"]
    api = {k: v.get("__ansible_unsafe", v) if isinstance(v, dict) else v  # values arrive marked unsafe
           for k, v in inventory["_meta"]["hostvars"]["healthmon-api-1"].items()}
    assert api["ansible_host"] == api["private_ip_address"] and api["ansible_user"] == "admin"
