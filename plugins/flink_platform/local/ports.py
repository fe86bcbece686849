"""Port helpers for the local stack and its tests (127.0.0.1 only)."""

from __future__ import annotations

import random
import socket


def port_in_use(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _below_ephemeral_range() -> tuple[int, int]:
    """Ports the kernel never hands out to outgoing connections (those could steal ours)."""
    try:
        first_ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    return 20000, max(21000, min(first_ephemeral, 32768))


def free_port_block(size: int, seed: int | None = None) -> int:
    """First port of ``size`` consecutive ports free on 127.0.0.1 (checked by binding).

    Picked below the ephemeral range, so no client connection can take one between this
    check and the server's bind.
    """
    rng = random.Random(seed)
    low, high = _below_ephemeral_range()
    for _ in range(200):
        base = rng.randrange(low, high - size)
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports on 127.0.0.1")
