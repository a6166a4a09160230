"""The fault-injecting proxy itself: each mode does to a client what its name says."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from localcloud.faults import FaultyProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo_server: tuple[str, int]) -> Iterator[FaultyProxy]:
    with FaultyProxy(*echo_server, name="echo") as proxy:
        yield proxy


def ask(proxy: FaultyProxy, message: bytes = b"ping", timeout: float = 1) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as sock:
        sock.sendall(message)
        return sock.recv(1024)


def test_pass_forwards_both_ways(proxy: FaultyProxy) -> None:
    assert ask(proxy) == b"ping"


def test_refuse_stops_listening_and_recovers(proxy: FaultyProxy) -> None:
    with proxy.fault("refuse"):
        time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            ask(proxy)
    time.sleep(0.2)
    assert ask(proxy) == b"ping"


def test_reset_resets_open_and_new_connections(proxy: FaultyProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=1) as open_one:
        open_one.sendall(b"a")
        assert open_one.recv(10) == b"a"
        with proxy.fault("reset"):
            time.sleep(0.1)
            with pytest.raises(ConnectionResetError):
                open_one.sendall(b"b")
                open_one.recv(10)
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                ask(proxy)
    assert ask(proxy) == b"ping"


def test_stall_accepts_and_never_answers(proxy: FaultyProxy) -> None:
    with proxy.fault("stall"):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            ask(proxy, timeout=0.5)
        assert time.monotonic() - started >= 0.5


def test_lose_next_answers_lets_the_request_through_then_recovers(proxy: FaultyProxy) -> None:
    proxy.lose_next_answers(1)
    with pytest.raises(ConnectionResetError):
        ask(proxy)
    assert ask(proxy) == b"ping"
