"""The address guard: which IP addresses a check or an alert may connect to.

Anyone who can create a monitor can make our servers send requests, so by default only globally
routable unicast addresses are allowed. Embedded IPv4 forms (IPv4-mapped, IPv4-compatible, 6to4,
NAT64, Teredo) are unwrapped first, because `64:ff9b::a9fe:a9fe` is the metadata service in disguise
and Python calls it global. Operators may open private ranges with ALLOWED_PRIVATE_CIDRS; link-local
and the cloud metadata ranges stay blocked whatever it says.

The guard is applied twice: `check_url_host()` when a monitor is saved (a clear 400), and
`check_ip()` at every socket the checker or the alert sender opens, after DNS resolution and on each
redirect hop, which is what actually defeats DNS rebinding and redirects to internal hosts.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALWAYS_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local: EC2 IMDS 169.254.169.254, ECS 169.254.170.2
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::/32"),  # EC2 IMDS over IPv6
    ipaddress.ip_network("0.0.0.0/8"),  # "this network": 0.0.0.0 reaches localhost on Linux
    ipaddress.ip_network("::/128"),
)
"""Never reachable, not even through ALLOWED_PRIVATE_CIDRS: they hand out cloud credentials."""

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPAT = ipaddress.ip_network("::/96")
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-Fx.]+$")


class BlockedAddress(Exception):
    """The destination is not allowed. `reason` is safe to show to the user and to log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address itself plus every IPv4 address it carries."""
    out: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            out.append(ip.ipv4_mapped)
        if ip.sixtofour:
            out.append(ip.sixtofour)
        if ip.teredo:
            out.extend(ip.teredo)
        if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPAT and int(ip) > 1):
            out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def _describe(ip: IPAddress) -> str:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "carrier-grade NAT"
    if ip.is_private:
        return "private"
    return "reserved"


class AddressGuard:
    """Decides whether an IP may be connected to. Immutable and cheap; build one per process."""

    def __init__(self, allowed_private_cidrs: Iterable[IPNetwork] = ()):
        self.allowed = tuple(allowed_private_cidrs)

    def check_ip(self, address: str | IPAddress) -> None:
        """Raise `BlockedAddress` unless `address` may be connected to."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
        except ValueError:
            raise BlockedAddress(f"not an IP address: {address!r}") from None
        forms = _embedded(ip)
        for form in forms:
            for net in ALWAYS_BLOCKED:
                if form.version == net.version and form in net:
                    raise BlockedAddress(f"{ip} is a link-local or metadata address")
        # Judge the embedded IPv4 forms first, so the reason names what the address really is
        # (`::ffff:127.0.0.1` is loopback, not "private").
        for form in forms[1:] + forms[:1]:
            bad = not form.is_global or form.is_multicast or form.is_reserved or form.is_unspecified
            if bad and not any(form.version == n.version and form in n for n in self.allowed):
                raise BlockedAddress(f"{ip} is a {_describe(form)} address")

    def is_allowed(self, address: str | IPAddress) -> bool:
        try:
            self.check_ip(address)
        except BlockedAddress:
            return False
        return True

    def check_url_host(self, url: str) -> None:
        """Save-time check of a URL's host: literal IPs in every spelling the resolver accepts
        (`127.1`, `0x7f000001`, `2130706433`, `[::ffff:127.0.0.1]`), and names that resolve now.
        A name that does not resolve is accepted; the connect-time check still applies later."""
        host = urlsplit(url).hostname
        if not host:
            raise BlockedAddress("the URL has no host")
        host = host.rstrip(".")
        try:
            self.check_ip(ipaddress.ip_address(host))
            return
        except ValueError:
            pass
        if _NUMERIC_HOST.match(host):
            try:
                packed = socket.inet_aton(host)  # the same shorthand parsing libc's resolver applies
            except OSError:
                packed = None
            if packed is not None:
                self.check_ip(ipaddress.IPv4Address(packed))
                return
        for address in resolve(host):
            self.check_ip(address)


def resolve(host: str) -> list[str]:
    """Addresses `host` resolves to now, or [] if it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})
