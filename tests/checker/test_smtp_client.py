"""The SMTP client against a real SMTP server on 127.0.0.1: STARTTLS and implicit TLS with a test CA, logins
accepted and refused, recipients refused for good or for now, no credentials in clear unless asked, the
address guard, timeouts (one budget for the whole send, however slowly the server answers); and no error
message carries the password."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest

from checker import smtp_client
from checker.smtp_client import send_mail
from checker.webhook_client import TransportError
from healthmon.netguard import AddressGuard
from tests.support.smtp import SilentListener, SlowSmtpServer, SmtpServer
from tests.support.targets import closed_port

pytestmark = pytest.mark.timeout(60)
LOOPBACK = AddressGuard([ipaddress.ip_network("127.0.0.0/8")])
PASSWORD = "s3cret-Passw0rd"


def send(port: int, **overrides) -> None:
    args = dict(host="127.0.0.1", port=port, security="none", username=None, password=None,
                sender="healthmon@example.com", recipients=["ops@example.com"], subject="[healthmon] DOWN: Shop",
                text="Name: Shop\n", timeout=5, guard=LOOPBACK)
    args.update(overrides)
    send_mail(**args)


def failure(port: int, **overrides) -> TransportError:
    with pytest.raises(TransportError) as caught:
        send(port, **overrides)
    assert PASSWORD not in str(caught.value)
    return caught.value


@pytest.fixture
def starttls_server(tls_pki):
    with SmtpServer(users={"alerts": PASSWORD}, starttls=(tls_pki.cert_file, tls_pki.key_file)) as server:
        yield server


def test_it_logs_in_after_starttls_and_delivers_the_message_with_its_headers(starttls_server, tls_pki):
    send(starttls_server.port, host="localhost", security="starttls", username="alerts", password=PASSWORD,
         recipients=["ops@example.com", "oncall@example.com"], subject="[healthmon] DOWN: Shöp 🔔",
         text="Name: Shöp\nOld: UP -> New: DOWN\n", ca_bundle=tls_pki.ca_file)
    assert starttls_server.logins == [("alerts", PASSWORD, True)]
    [got] = starttls_server.received
    assert got.sender == "healthmon@example.com"
    assert got.recipients == ["ops@example.com", "oncall@example.com"]
    message = got.message
    assert message["From"] == "healthmon@example.com"
    assert message["To"] == "ops@example.com, oncall@example.com"
    assert message["Subject"] == "[healthmon] DOWN: Shöp 🔔"
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"].datetime.utcoffset().total_seconds() == 0
    assert message.get_content().replace("\r\n", "\n") == "Name: Shöp\nOld: UP -> New: DOWN\n"


def test_starttls_refuses_a_certificate_it_cannot_verify(tls_pki):
    pair = (tls_pki.self_signed_cert_file, tls_pki.self_signed_key_file)
    with SmtpServer(users={"alerts": PASSWORD}, starttls=pair) as server:
        error = failure(server.port, security="starttls", username="alerts", password=PASSWORD,
                        ca_bundle=tls_pki.ca_file)
    assert error.kind == "tls" and "certificate" in error.message
    assert server.logins == [] and server.received == []


def test_starttls_checks_the_certificate_against_the_host_name(starttls_server, tls_pki, monkeypatch):
    # The certificate is for localhost and 127.0.0.1; the same server reached as another name is refused.
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if host == "smtp.example.test" else host, *a, **k))
    error = failure(starttls_server.port, host="smtp.example.test", security="starttls", ca_bundle=tls_pki.ca_file)
    assert error.kind == "tls" and "smtp.example.test" in error.message


def test_implicit_tls_delivers(tls_pki):
    with SmtpServer(implicit_tls=(tls_pki.cert_file, tls_pki.key_file)) as server:
        send(server.port, security="tls", ca_bundle=tls_pki.ca_file)
    assert [r.recipients for r in server.received] == [["ops@example.com"]]


def test_a_refused_login_is_permanent_and_does_not_show_the_password(starttls_server, tls_pki):
    error = failure(starttls_server.port, security="starttls", username="alerts", password=PASSWORD + "x",
                    ca_bundle=tls_pki.ca_file)
    assert error.kind == "smtp_refused"
    assert error.message.startswith("127.0.0.1 refused the login (535")
    assert PASSWORD + "x" not in error.message and starttls_server.received == []


def test_a_refused_recipient_is_permanent():
    with SmtpServer(refuse={"ops@example.com": "550 5.1.1 no such user"}) as server:
        error = failure(server.port)
    assert (error.kind, error.message) == ("smtp_refused", "127.0.0.1 refused every recipient (550 5.1.1)")
    assert server.received == []


def test_a_recipient_refused_for_now_is_temporary():
    with SmtpServer(refuse={"ops@example.com": "451 4.3.0 try again later"}) as server:
        error = failure(server.port)
    assert (error.kind, error.message) == ("smtp_temporary", "127.0.0.1 refused every recipient (451 4.3.0)")


def test_a_message_refused_for_some_recipients_is_reported_and_not_retried():
    with SmtpServer(refuse={"gone@example.com": "550 5.1.1 no such user"}) as server:
        error = failure(server.port, recipients=["ops@example.com", "gone@example.com"])
    assert error.kind == "smtp_refused"
    assert error.message == ("127.0.0.1 refused 1 of 2 recipients (550 5.1.1); the others were sent the message")
    assert [r.recipients for r in server.received] == [["ops@example.com"]]


def test_starttls_refuses_a_server_without_it_so_credentials_never_cross_in_clear():
    with SmtpServer(users={"alerts": PASSWORD}, auth_require_tls=False) as server:
        error = failure(server.port, security="starttls", username="alerts", password=PASSWORD)
        assert (error.kind, error.message) == ("tls", "127.0.0.1 does not offer STARTTLS")
        assert server.logins == [] and server.received == []
        send(server.port, security="none", username="alerts", password=PASSWORD)  # chosen explicitly: allowed
    assert server.logins == [("alerts", PASSWORD, True)] and len(server.received) == 1


def test_a_server_that_never_answers_times_out():
    with SilentListener() as silent:
        error = failure(silent.port, timeout=0.5)
    assert (error.kind, error.message) == ("timeout", "127.0.0.1 did not answer within 0.5 s")


def _gives_up_with_a_timeout(port: int, **overrides) -> float:
    """How long a send with a 2 s budget took to fail, having failed with kind timeout."""
    started = time.monotonic()
    error = failure(port, timeout=2, **overrides)
    assert (error.kind, error.message) == ("timeout", "127.0.0.1 did not answer within 2 s")
    return time.monotonic() - started


def test_the_timeout_is_the_budget_of_the_whole_send_not_of_each_step():
    with SlowSmtpServer(pause=0.8) as slow:  # each answer in time, the six of them not
        assert _gives_up_with_a_timeout(slow.port) < 6


def test_a_server_trickling_its_greeting_a_byte_at_a_time_cannot_stretch_the_send():
    with SlowSmtpServer(pause=0.2, trickle=True) as slow:
        assert _gives_up_with_a_timeout(slow.port) < 6


def test_a_tls_handshake_that_never_ends_times_out_within_the_budget():
    with SilentListener() as silent:
        assert _gives_up_with_a_timeout(silent.port, security="tls") < 6


def test_a_closed_port_is_a_connection_error():
    error = failure(closed_port(), host="127.0.0.1")
    assert error.kind == "connection" and error.message.startswith("could not connect to 127.0.0.1")


def test_the_guard_blocks_loopback_unless_allowed_without_connecting():
    with SilentListener() as silent:
        error = failure(silent.port, guard=AddressGuard())
        assert (error.kind, error.message) == ("blocked_address", "127.0.0.1: 127.0.0.1 is a loopback address")
        error = failure(silent.port, host="localhost", guard=AddressGuard())
        assert error.kind == "blocked_address"
        assert silent.connections() == 0


def test_the_host_is_looked_up_once_and_the_vetted_address_is_what_it_connects_to(monkeypatch):
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def recording(host, *args, **kwargs):
        looked_up.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    with SmtpServer() as server:
        # localhost may resolve to ::1 too; the guard allows only 127.0.0.0/8, so 127.0.0.1 it is.
        send(server.port, host="localhost")
    assert len(server.received) == 1
    assert [h for h in looked_up if h == "localhost"] == ["localhost"]
    assert all(h in ("localhost", "127.0.0.1") for h in looked_up), looked_up


@pytest.mark.parametrize("overrides", [{"security": "ssl"}, {"recipients": []},
                                       {"subject": "x\r\nBcc: victim@example.com"},
                                       {"recipients": ["ops@example.com\r\nRCPT TO:<v@example.com>"]}])
def test_bad_arguments_are_refused_before_connecting(overrides):
    with SilentListener() as silent:
        with pytest.raises(ValueError):
            send(silent.port, **overrides)
        assert silent.connections() == 0


def test_every_error_kind_is_one_the_contract_names():
    assert set(smtp_client.SMTP_ERROR_KINDS) == {"timeout", "connection", "tls", "blocked_address", "smtp_refused",
                                                 "smtp_temporary"}
