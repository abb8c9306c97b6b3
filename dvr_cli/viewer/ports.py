"""Whether the viewer can listen where it was asked to, said in one line before viser starts."""

from __future__ import annotations

import socket

from ..errors import DvrError


def port_error(host: str, port: int, reason: str) -> DvrError:
    return DvrError(f"--port {port}: cannot listen on {host}:{port} ({reason}); choose another --port")


def check_port(host: str, port: int) -> None:
    """DvrError in one line unless ``host``:``port`` can be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise port_error(host, port, exc.strerror or str(exc)) from None
