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


class _SlowRecorder(socketserver.BaseRequestHandler):
    """Reads a request to its end, takes a while over it, records it, then answers."""

    received: list[bytes]

    def handle(self) -> None:
        request = b""
        while data := self.request.recv(1024):
            request += data
        time.sleep(0.3)  # a service slow to do the work (the test must not depend on it)
        type(self).received.append(request)
        self.request.sendall(b"done")


@pytest.fixture
def slow_proxy() -> Iterator[tuple[FaultyProxy, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Recorder", (_SlowRecorder,), {"received": received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with FaultyProxy(*server.server_address[:2], name="slow") as proxy:
        yield proxy, received
    server.shutdown()
    server.server_close()


def test_what_a_stall_held_lands_once_lifted_and_wait_until_quiet_waits_for_it(
    slow_proxy: tuple[FaultyProxy, list[bytes]],
) -> None:
    proxy, received = slow_proxy
    # GIVEN a request sent into a stall by a client that gave up and went away
    with proxy.fault("stall"):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=1) as sock:
            sock.sendall(b"PUT the cat")
        # the proxy sees a connection once it has accepted it, not while it is in the
        # backlog (wait_until_quiet's contract): wait for that, not for the scheduler
        accepted_by = time.monotonic() + 5
        while not proxy.holds_bytes():
            assert time.monotonic() < accepted_by, "the proxy never accepted the request"
            time.sleep(0.01)
        with pytest.raises(TimeoutError):
            proxy.wait_until_quiet(timeout=0.3)  # held: nothing passes during a stall

    # WHEN the stall is lifted and the proxy has passed on what it held
    proxy.wait_until_quiet(timeout=10)

    # THEN the service has done the work, whole, before the wait ends
    assert received == [b"PUT the cat"]


def test_wait_until_quiet_ignores_idle_connections(proxy: FaultyProxy) -> None:
    # GIVEN a kept-alive connection that was answered and now sits idle (a pool's)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=1) as idle:
        idle.sendall(b"ping")
        assert idle.recv(1024) == b"ping"
        # THEN the proxy is quiet: it holds nothing that is on its way
        proxy.wait_until_quiet(timeout=1)
