"""A TCP proxy between firebell and PostgreSQL that can fail the way networks do.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
        proxy.black_hole()   # a partition: nothing answers, nothing is closed
        proxy.heal()         # new connections go through again
        proxy.reset()        # every open connection is reset (RST), as a restart does
        proxy.go_down()      # reset, and refuse new connections (reset at once) until heal()

A black hole swallows what is sent on every connection open at that moment and accepts
new connections without ever reaching the server, exactly what a client sees when a
firewall or NAT in between drops its state: no reply, no FIN, no RST, and the kernel of
the proxy still acknowledges every byte, so TCP timeouts never fire. Connections
swallowed once stay swallowed after `heal()` (their stream is broken for good); only the
client giving up on them recovers. One thread runs a selector loop; commands from the
test thread take effect on its next turn.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from contextlib import suppress
from dataclasses import dataclass


@dataclass(eq=False)
class _Link:
    """One client connection and, unless it was swallowed from the start, its upstream."""

    client: socket.socket
    upstream: socket.socket | None
    swallowed: bool = False

    def peer(self, sock: socket.socket) -> socket.socket | None:
        return self.upstream if sock is self.client else self.client

    def sockets(self) -> list[socket.socket]:
        return [s for s in (self.client, self.upstream) if s is not None]


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._commands: list[tuple[str, threading.Event]] = []
        self._partitioned = False
        self._down = False
        self._closing = False
        self.accepted = 0  # connections accepted so far (a test can see reconnects)
        self._thread = threading.Thread(target=self._loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    # Commands (from the test thread) -------------------------------------------------

    def black_hole(self) -> None:
        """Swallow everything from now on: open connections and new ones."""
        self._command("black_hole")

    def heal(self) -> None:
        """New connections reach the server again (swallowed ones stay swallowed)."""
        self._command("heal")

    def go_down(self) -> None:
        """The server is gone: open connections are reset, new ones reset at once."""
        self._command("go_down")

    def reset(self) -> None:
        """Reset every open connection (RST both ways), as a server restart does."""
        self._command("reset")

    def close(self) -> None:
        self._closing = True
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _command(self, name: str) -> None:
        done = threading.Event()
        with self._lock:
            self._commands.append((name, done))
        if not done.wait(timeout=5):
            raise RuntimeError(f"proxy did not carry out {name}")

    # The loop (proxy thread) ------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._closing:
                self._run_commands()
                for key, _events in self._selector.select(timeout=0.02):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept()
                    else:
                        self._forward(sock, key.data)
        finally:
            for link in list(self._links):
                self._drop(link, hard=False)
            self._selector.close()
            self._listener.close()

    def _run_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for name, done in commands:
            if name == "black_hole":
                self._partitioned = True
                for link in self._links:
                    link.swallowed = True
            elif name == "heal":
                self._partitioned = self._down = False
            elif name in ("reset", "go_down"):
                self._down = name == "go_down"
                for link in list(self._links):
                    self._drop(link, hard=True)
            done.set()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        if self._down:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        upstream = None
        if not self._partitioned:
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.close()
                return
        link = _Link(client, upstream, swallowed=self._partitioned)
        self._links.append(link)
        for sock in link.sockets():
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, link)

    def _forward(self, sock: socket.socket, link: _Link) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if not link.swallowed:  # a black hole never passes a close on either
                self._drop(link, hard=False)
            elif sock is link.client:
                self._drop(link, hard=False)  # the client gave up: forget it
            return
        peer = link.peer(sock)
        if link.swallowed or peer is None:
            return
        try:
            peer.setblocking(True)  # loopback: the far side reads promptly
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            self._drop(link, hard=False)

    def _drop(self, link: _Link, *, hard: bool) -> None:
        if link in self._links:
            self._links.remove(link)
        for sock in link.sockets():
            with suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            if hard:  # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
