"""Port helpers for the local stack and its tests (127.0.0.1 only)."""

from __future__ import annotations

import random
import socket


def port_in_use(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port_block(size: int, seed: int | None = None) -> int:
    """First port of ``size`` consecutive ports free on 127.0.0.1 (checked by binding)."""
    rng = random.Random(seed)
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports on 127.0.0.1")
