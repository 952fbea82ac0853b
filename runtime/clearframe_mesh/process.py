"""Child processes of the local mesh that cannot outlive it."""

from __future__ import annotations

import shutil
import socket


def dying_with_parent(command: list[str]) -> list[str]:
    """The command, prefixed so that the kernel sends it SIGTERM when the launcher dies (even by SIGKILL).

    util-linux's `setpriv --pdeathsig` sets the signal before exec. (A Python preexec_fn would do the same
    but runs Python between fork and exec, which aborts children of a process with gRPC threads.)
    Where setpriv is missing the command runs as it is.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports: all held open at once while they are picked (one after another,
    :func:`free_port` may hand out the same port twice)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
