"""The address guard refuses every non-public destination, in every spelling, unless an operator opens it."""

import ipaddress

import pytest

from healthmon.netguard import AddressGuard, BlockedAddress

BLOCKED_IPS = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254",
    "169.254.170.2", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1",
    "fd00:ec2::254", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1", "2002:7f00:1::", "2002:a9fe:a9fe::", "::127.0.0.1", "198.18.0.1", "192.0.2.1",
]


@pytest.mark.parametrize("ip", BLOCKED_IPS)
def test_it_blocks_non_public_addresses(ip):
    with pytest.raises(BlockedAddress):
        AddressGuard().check_ip(ip)


@pytest.mark.parametrize("ip", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_it_allows_public_addresses(ip):
    AddressGuard().check_ip(ip)


@pytest.mark.parametrize("host", ["127.1", "0x7f000001", "2130706433", "017700000001", "0177.0.0.1", "localhost",
                                  "[::ffff:7f00:1]", "169.254.169.254.", "0"])
def test_it_catches_loopback_in_every_spelling_at_save_time(host):
    with pytest.raises(BlockedAddress):
        AddressGuard().check_url_host(f"http://{host}:8080/x")


def test_it_accepts_a_name_that_does_not_resolve_now():
    AddressGuard().check_url_host("https://no-such-host.invalid/")


def test_an_operator_can_open_a_private_range():
    guard = AddressGuard([ipaddress.ip_network("10.0.0.0/8")])
    guard.check_ip("10.20.30.40")
    with pytest.raises(BlockedAddress):
        guard.check_ip("192.168.1.1")


@pytest.mark.parametrize("ip", ["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "::ffff:169.254.169.254"])
def test_metadata_addresses_stay_blocked_even_when_everything_is_opened(ip):
    guard = AddressGuard([ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])
    with pytest.raises(BlockedAddress, match="metadata"):
        guard.check_ip(ip)


def test_the_reason_names_the_kind_of_address():
    with pytest.raises(BlockedAddress) as err:
        AddressGuard().check_ip("100.64.0.1")
    assert err.value.reason == "100.64.0.1 is a carrier-grade NAT address"


def test_a_wrapped_address_is_described_by_what_it_wraps():
    with pytest.raises(BlockedAddress) as err:
        AddressGuard().check_ip("::ffff:127.0.0.1")
    assert err.value.reason == "::ffff:7f00:1 is a loopback address"
