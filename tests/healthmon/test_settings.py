"""Settings are read strictly: a bad value is one clear line naming the variable and what is accepted."""

import pytest

from healthmon.settings import Settings, SettingsError


def test_it_uses_the_documented_defaults():
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///healthmon.db"
    assert (s.fail_threshold, s.success_threshold, s.min_check_interval, s.port) == (2, 2, 10, 8000)
    assert s.aws_region == "us-east-1"
    assert s.queue_backend == "database"


def test_it_switches_to_sqs_when_a_queue_url_is_set():
    s = Settings.from_env({"SQS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q"})
    assert s.queue_backend == "sqs"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("FAIL_THRESHOLD", "abc", "FAIL_THRESHOLD='abc' is not valid: expected an integer from 1 to 10"),
        ("FAIL_THRESHOLD", "0", "FAIL_THRESHOLD='0' is not valid: expected an integer from 1 to 10"),
        ("SUCCESS_THRESHOLD", "2.5", "SUCCESS_THRESHOLD='2.5' is not valid"),
        ("PORT", "70000", "PORT='70000' is not valid: expected an integer from 1 to 65535"),
        ("MIN_CHECK_INTERVAL", "-1", "MIN_CHECK_INTERVAL='-1' is not valid"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL='chatty' is not valid: expected one of DEBUG, INFO, WARNING, ERROR"),
        ("ALLOWED_PRIVATE_CIDRS", "10.0.0.0/8,nope", "'nope' is not a CIDR"),
        ("SQS_QUEUE_URL", "not-a-url", "SQS_QUEUE_URL='not-a-url' is not valid"),
        ("AWS_REGION", "bad region!", "AWS_REGION='bad region!' is not valid: expected an AWS region"),
        ("HOST", "0.0.0.0; rm -rf", "HOST='0.0.0.0; rm -rf' is not valid"),
    ],
)
def test_it_rejects_a_bad_value_naming_the_variable(name, value, expected):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: value})
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_it_never_echoes_a_bad_database_url_because_it_may_hold_a_password():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"DATABASE_URL": "mysql://root:hunter2@db/x"})
    assert "hunter2" not in str(err.value)
    assert "DATABASE_URL" in str(err.value)


def test_it_reads_the_database_url_from_a_file(tmp_path):
    secret = tmp_path / "db_url"
    secret.write_text("postgresql://app:s3cret@db.internal:5432/healthmon\n")
    s = Settings.from_env({"DATABASE_URL_FILE": str(secret)})
    assert s.database_url == "postgresql://app:s3cret@db.internal:5432/healthmon"
    assert "s3cret" not in str(s.as_safe_dict())


def test_it_refuses_both_a_database_url_and_its_file(tmp_path):
    secret = tmp_path / "db_url"
    secret.write_text("sqlite:///x.db")
    with pytest.raises(SettingsError, match="set only one"):
        Settings.from_env({"DATABASE_URL_FILE": str(secret), "DATABASE_URL": "sqlite:///y.db"})


def test_it_parses_allowed_private_ranges():
    s = Settings.from_env({"ALLOWED_PRIVATE_CIDRS": "10.0.0.0/8, 127.0.0.0/8"})
    assert [str(n) for n in s.allowed_private_cidrs] == ["10.0.0.0/8", "127.0.0.0/8"]


def test_it_accepts_real_regions_and_bind_addresses():
    assert Settings.from_env({"AWS_REGION": "us-gov-west-1"}).aws_region == "us-gov-west-1"
    assert Settings.from_env({"AWS_DEFAULT_REGION": "eu-central-1"}).aws_region == "eu-central-1"
    for host in ("127.0.0.1", "::", "localhost", "api.internal"):
        assert Settings.from_env({"HOST": host}).host == host
