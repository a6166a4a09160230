"""A TCP proxy that injects faults between Kitteh and a dependency (S3, PostgreSQL, SQS).

The fault tests and the load benchmark put S3 or PostgreSQL behind a
:class:`FaultyProxy` and switch its mode while the app, the resize function or the
relay talk through it:

``pass``
    bytes flow both ways, as if the proxy were not there;
``refuse``
    the service is down: open connections are reset and new ones refused
    (the port stops listening, so a connect fails with ECONNREFUSED);
``reset``
    every open connection is reset (TCP RST) and every new one reset on accept;
``stall``
    the service hangs: connections are accepted, nothing is forwarded either way,
    and nothing is closed — a peer waits until its own timeout ends the wait;
``lose_answers``
    requests reach the service, answers never come back: the client's connection
    is reset at the first byte of the answer (an HTTP ``100 Continue`` passes: the
    request's body follows it). The service did the work (stored
    the object, committed the row); the client cannot know it.

:meth:`FaultyProxy.lose_next_answers` loses only the next few answers, then passes.

What a stall held is passed on once it is lifted, as a service that recovers would
read it: a request whose client gave up meanwhile still reaches the service, which
may still do the work. :meth:`FaultyProxy.wait_until_quiet` waits for that, so that
a test reads the final state only once nothing sent through the proxy is on its way.

One thread per connection, plain sockets: the proxy runs inside the test process
and must not share an event loop with anything under test.
"""

from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Self

log = logging.getLogger(__name__)

Mode = Literal["pass", "refuse", "reset", "stall", "lose_answers"]
MODES: tuple[Mode, ...] = ("pass", "refuse", "reset", "stall", "lose_answers")

#: HTTP's interim answer to ``Expect: 100-continue`` (boto3 sends it with every upload):
#: not the answer that is lost, since the request's body only follows it.
_INTERIM_ANSWER = b"HTTP/1.1 100"
#: How often idle threads look at the mode again.
_TICK_SECONDS = 0.02
_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST instead of an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultyProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``, with faults switched by :meth:`set_mode`."""

    def __init__(self, target_host: str, target_port: int, *, name: str = "proxy") -> None:
        self.target = (target_host, target_port)
        self.name = name
        self._mode: Mode = "pass"
        self._answers_to_lose = 0
        self._lock = threading.Lock()
        #: Notified when a connection is answered or ends (see :meth:`wait_until_quiet`).
        self._quieter = threading.Condition(self._lock)
        self._stopped = threading.Event()
        self._connections: set[_Connection] = set()
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{name}-accept", daemon=True
        )

    # Life cycle -----------------------------------------------------------------

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close(reset=True)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``host:port`` of the proxy, for URLs."""
        return f"127.0.0.1:{self.port}"

    # Faults ---------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        """Switch the fault; it applies to open connections as to new ones."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            self._mode = mode
            connections = list(self._connections)
            # At once, not at the accept loop's next turn: a connect right after
            # set_mode() must meet the new mode.
            if mode == "refuse" and self._listener is not None:
                self._listener.close()
                self._listener = None
            elif mode != "refuse" and self._listener is None:
                self._listener = self._listen(self.port)
        log.info("%s: mode %s", self.name, mode)
        if mode in ("reset", "refuse"):
            for connection in connections:
                connection.close(reset=True)

    @contextmanager
    def fault(self, mode: Mode) -> Iterator[None]:
        """``with proxy.fault("stall"):`` the fault for the block, then ``pass`` again."""
        self.set_mode(mode)
        try:
            yield
        finally:
            self.set_mode("pass")

    def lose_next_answers(self, count: int) -> None:
        """Let requests through but reset the next ``count`` answers, then pass again."""
        with self._lock:
            self._answers_to_lose = count

    def _busy_connections(self) -> list[_Connection]:
        """The accepted connections that still hold bytes on their way (caller holds the lock)."""
        return [c for c in self._connections if c.on_its_way()]

    def holds_bytes(self) -> bool:
        """True while an accepted connection holds bytes on their way (see wait_until_quiet)."""
        with self._quieter:
            return bool(self._busy_connections())

    def wait_until_quiet(self, timeout: float = 30.0) -> None:
        """Wait until nothing sent through the proxy is on its way to the service.

        Quiet means: on every connection the proxy has accepted, every byte the client
        sent has been passed on and the service has begun an answer to it (or closed),
        or the connection was dropped; idle connections (a pool's) are quiet. A connect
        still in the listener's backlog is not seen: call it once the clients are done.
        A request held by a stall counts until the stall is lifted and the service has
        answered it, even if its client has gone: call this after the fault, before
        reading what the service stored.

        :raise TimeoutError: still not quiet after ``timeout`` seconds (a stall in place,
            or a service that does not answer).
        """
        deadline = time.monotonic() + timeout
        with self._quieter:
            while busy := self._busy_connections():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.name}: {len(busy)} connection(s) still hold bytes on their way"
                    )
                # Answers and ends notify; bytes arriving from a client notify nobody
                # (the proxy is not reading them in a stall), hence the tick.
                self._quieter.wait(min(left, _TICK_SECONDS))

    def _take_lost_answer(self) -> bool:
        with self._lock:
            if self._mode == "lose_answers":
                return True
            if self._answers_to_lose > 0:
                self._answers_to_lose -= 1
                return True
            return False

    # Plumbing -------------------------------------------------------------------

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(_TICK_SECONDS * 5)
        return listener

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                if self._mode == "refuse":
                    listener = None
                elif self._listener is None:
                    listener = self._listener = self._listen(self.port)
                else:
                    listener = self._listener
            if listener is None:
                time.sleep(_TICK_SECONDS)
                continue
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopped.is_set():
                    return
                continue  # closed by set_mode("refuse") while waiting
            self.accepted += 1
            if self._mode in ("reset", "refuse"):
                _reset(client)
                continue
            connection = _Connection(self, client)
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=connection.run, name=f"{self.name}-conn", daemon=True).start()

    def _forget(self, connection: _Connection) -> None:
        with self._quieter:
            self._connections.discard(connection)
            self._quieter.notify_all()


class _Connection:
    """One client connection and, once the mode lets it through, its upstream one."""

    def __init__(self, proxy: FaultyProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self._closed = threading.Event()
        # Both guarded by the proxy's lock. Unanswered: bytes were (or are being)
        # passed upstream and no answer has begun since. Client gone: it closed its
        # side while waiting; the upstream is half-closed and read to the answer.
        self._unanswered = False
        self._client_gone = False

    def on_its_way(self) -> bool:
        """Does this connection hold a request not yet answered? Call under the proxy's lock."""
        if self._unanswered:
            return True
        return not self._client_gone and _has_unread(self.client)

    def close(self, *, reset: bool) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            if reset:
                _reset(sock)
            else:
                sock.close()

    def run(self) -> None:
        try:
            self._pump()
        except (OSError, ValueError):  # a socket closed under us by set_mode or stop
            self.close(reset=True)
        finally:
            self.proxy._forget(self)

    def _pump(self) -> None:
        with selectors.DefaultSelector() as selector:
            while not self._closed.is_set():
                mode = self.proxy.mode
                if mode == "stall":
                    time.sleep(_TICK_SECONDS)  # read nothing, forward nothing, close nothing
                    continue
                if self.upstream is None:
                    try:
                        self.upstream = socket.create_connection(self.proxy.target, timeout=5)
                    except OSError:
                        self.close(reset=True)
                        return
                    self.upstream.settimeout(None)
                    selector.register(self.client, selectors.EVENT_READ)
                    selector.register(self.upstream, selectors.EVENT_READ)
                for key, _ in selector.select(timeout=_TICK_SECONDS):
                    if self.proxy.mode == "stall" or self._closed.is_set():
                        break
                    if key.fileobj is self.client:
                        done = self._pass_request(selector)
                    else:
                        done = self._pass_answer()
                    if done:
                        return

    def _pass_request(self, selector: selectors.BaseSelector) -> bool:
        """Pass on what the client sent; True once the connection is over."""
        assert self.upstream is not None
        with self.proxy._quieter:
            waiting = self._unanswered
            # Before the read: from here the bytes are out of the client's socket,
            # where wait_until_quiet would see them, and not yet upstream.
            self._unanswered = True
        try:
            data = self.client.recv(_CHUNK)
        except ConnectionResetError:
            data = b""
        if data:
            self.upstream.sendall(data)
            return False
        if not waiting:
            self.close(reset=False)
            return True
        # The client gave up on an answer. The service still reads the request to its
        # end and may do the work, as it would without the proxy: say so with a FIN
        # only (a close with its answer unread would reset it) and read to the answer.
        selector.unregister(self.client)
        self.upstream.shutdown(socket.SHUT_WR)
        with self.proxy._quieter:
            self._client_gone = True
        return False

    def _pass_answer(self) -> bool:
        """Pass on what the service sent; True once the connection is over."""
        assert self.upstream is not None
        data = self.upstream.recv(_CHUNK)
        if not data:
            self.close(reset=False)
            return True
        answered = _answer_begins(data)
        if answered:
            with self.proxy._quieter:
                self._unanswered = False
                self.proxy._quieter.notify_all()
        if self._client_gone:
            if answered:  # the work is done; nobody is left to tell
                self.close(reset=False)
            return answered
        if answered and self.proxy._take_lost_answer():
            self.close(reset=True)
            return True
        self.client.sendall(data)
        return False


def _answer_begins(data: bytes) -> bool:
    """Does ``data``, from the service, hold more than HTTP interim answers (``100 Continue``)?"""
    while data.startswith(_INTERIM_ANSWER):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        data = data[end + 4 :]
    return bool(data)


def _has_unread(sock: socket.socket) -> bool:
    """Has the peer sent bytes (or its FIN) that nobody has read from ``sock`` yet?"""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:  # closed under us: whatever it held is dropped
        return False
    return True
