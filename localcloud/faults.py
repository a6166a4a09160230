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
        with self._lock:
            self._connections.discard(connection)


class _Connection:
    """One client connection and, once the mode lets it through, its upstream one."""

    def __init__(self, proxy: FaultyProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self._closed = threading.Event()

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
                    selector.register(self.client, selectors.EVENT_READ, self.upstream)
                    selector.register(self.upstream, selectors.EVENT_READ, self.client)
                for key, _ in selector.select(timeout=_TICK_SECONDS):
                    if self.proxy.mode == "stall" or self._closed.is_set():
                        break
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    destination: socket.socket = key.data
                    data = source.recv(_CHUNK)
                    if not data:
                        self.close(reset=False)
                        return
                    if (
                        source is self.upstream
                        and not data.startswith(_INTERIM_ANSWER)
                        and self.proxy._take_lost_answer()
                    ):
                        self.close(reset=True)
                        return
                    destination.sendall(data)
