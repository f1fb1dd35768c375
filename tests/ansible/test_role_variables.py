"""The role's variables stay in step with healthmon: every setting has one, defaults agree, and the
README documents each variable with its default."""

from __future__ import annotations

import re

import pytest

from checker.pool import STOP_MARGIN_SECONDS
from healthmon.settings import Settings
from tests.ansible.support import ANSIBLE_DIR
from tests.support.settings_env import variables_read_by_settings

yaml = pytest.importorskip("yaml")  # installed with ansible-core

ROLE = ANSIBLE_DIR / "roles" / "healthmon"
AWS_ROLE = ANSIBLE_DIR / "roles" / "healthmon_aws"


def _defaults(role):
    return yaml.safe_load((role / "defaults" / "main.yml").read_text())


def test_every_setting_healthmon_reads_has_a_role_variable():
    mapped = set(yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_healthmon_settings"])
    assert variables_read_by_settings() - {"AWS_DEFAULT_REGION"} == mapped


def test_the_role_defaults_are_healthmons_own_defaults():
    d, s = _defaults(ROLE), Settings()
    assert d["healthmon_fail_threshold"] == s.fail_threshold
    assert d["healthmon_success_threshold"] == s.success_threshold
    assert d["healthmon_port"] == s.port
    assert d["healthmon_host"] == s.host
    assert d["healthmon_log_level"] == s.log_level
    assert d["healthmon_aws_region"] == s.aws_region
    assert d["healthmon_stop_timeout"] >= s.shutdown_grace + STOP_MARGIN_SECONDS
    aws = _defaults(AWS_ROLE)
    assert aws["healthmon_aws_sqs_max_receives"] == s.queue_max_receives
    assert aws["healthmon_aws_sqs_visibility_timeout"] == s.queue_visibility_timeout


def test_the_readme_documents_every_variable_with_its_default():
    for role in (ROLE, AWS_ROLE):
        readme = (role / "README.md").read_text()
        rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", readme, flags=re.MULTILINE))
        defaults = _defaults(role)
        assert set(rows) == set(defaults), role.name
        for name, value in defaults.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                assert rows[name] == str(value) or rows[name] == f'"{value}"', (name, rows[name], value)


def test_the_fleet_settings_do_not_override_the_provisioning_roles_defaults():
    """group_vars/all applies to localhost too, where provision.yml runs healthmon_aws."""
    fleet = yaml.safe_load((ANSIBLE_DIR / "group_vars" / "all" / "main.yml").read_text())
    overridden = set(fleet) & set(_defaults(AWS_ROLE))
    assert not overridden, f"group_vars/all/main.yml overrides {sorted(overridden)} on localhost"
    assert _defaults(AWS_ROLE)["healthmon_aws_region"] == _defaults(ROLE)["healthmon_aws_region"]


def test_the_ec2_guide_states_the_queue_retention_the_role_sets():
    doc = (ANSIBLE_DIR.parent / "docs" / "deploy-ec2.md").read_text()
    aws = _defaults(AWS_ROLE)
    assert f"messages kept {aws['healthmon_aws_sqs_retention_seconds'] // 3600} hours" in doc
    assert f"kept {aws['healthmon_aws_sqs_dlq_retention_seconds'] // 86400} days" in doc
