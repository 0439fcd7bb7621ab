"""Where a server bound to every interface can be reached: the banner lists these addresses for
`--host 0.0.0.0`, `::` or "", so a phone, a VM or a container next door knows which URL to use.

Loopback addresses are left out (the banner's first line is one), and so are IPv6 link-local
ones, which only work with a zone index a browser will not take. asyncio binds `::` to IPv6
alone (IPV6_V6ONLY), `0.0.0.0` to IPv4 alone, and "" to both.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil

WILDCARD_FAMILIES: dict[str, frozenset[int]] = {
    "0.0.0.0": frozenset({socket.AF_INET}),
    "::": frozenset({socket.AF_INET6}),
    "": frozenset({socket.AF_INET, socket.AF_INET6}),
}


def reachable_urls(host: str, port: int | str) -> list[str]:
    """`http://<address>:<port>` for each address of an interface that is up, when `host` is a
    wildcard; nothing for a named host (the banner's own URL is the one)."""
    families = WILDCARD_FAMILIES.get(host)
    if families is None:
        return []
    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    urls = []
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        for address in addresses:
            if name not in up or address.family not in families:
                continue
            ip = ipaddress.ip_address(address.address.partition("%")[0])
            if ip.is_loopback or ip.is_link_local:
                continue
            urls.append(f"http://{ip}:{port}" if ip.version == 4 else f"http://[{ip}]:{port}")
    return urls
