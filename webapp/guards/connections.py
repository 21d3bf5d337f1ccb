"""Sockets a slow or greedy client cannot hold: uvicorn's connection, header and keep-alive limits, in
a protocol class of its own. Gradio builds uvicorn's Config itself and passes none of these, so the
class is registered as uvicorn's HTTP protocol before Gradio starts the server, and sets them on each
connection. Without them 4,000 connections that never finished their headers were held with no time
limit, and two addresses reached the process's file limit, after which nobody got an answer.

- At most MAX_CONNECTIONS open at once, ADDRESS_CONNECTIONS from one address (where the socket's peer
  is the visitor, not a proxy); a connection over either is closed as it opens.
- A request's headers must arrive within HEADER_SECONDS of connecting or of the last answer, and fit
  in MAX_HEADER_BYTES; an idle connection is closed after KEEP_ALIVE_SECONDS.
- uvicorn's own adoption of X-Forwarded-For (from 127.0.0.1 by default) is off: the socket's peer is
  what the app sees, and webapp.guards.upload_guard.client_key alone decides whom a proxy forwards for.
Limits live in webapp.guards.limits (README: Limits on a public server)."""
from __future__ import annotations

import asyncio

import h11
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import ADDRESS_CONNECTIONS, HEADER_SECONDS, KEEP_ALIVE_SECONDS, MAX_CONNECTIONS, MAX_HEADER_BYTES
from .upload_guard import trusts_forwarded


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with this module's limits, a cap on open connections and a time limit on
    each request's headers."""

    header_timer: asyncio.TimerHandle | None = None

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limit_concurrency = MAX_CONNECTIONS        # uvicorn answers 503 to requests past it
        self.timeout_keep_alive = KEEP_ALIVE_SECONDS
        self.conn = h11.Connection(h11.SERVER, MAX_HEADER_BYTES)
        if isinstance(self.app, ProxyHeadersMiddleware):
            self.app = self.app.app

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        from_address = (sum(1 for c in self.connections if c.client and c.client[0] == address)
                        if address and not trusts_forwarded() else 0)
        if len(self.connections) > MAX_CONNECTIONS or from_address > ADDRESS_CONNECTIONS:
            self.connections.discard(self)      # at once: uvicorn forgets it only when the close completes
            transport.close()
            return
        self._await_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
        self.header_timer = self.loop.call_later(HEADER_SECONDS, self._headers_late)

    def _headers_late(self) -> None:
        # IDLE: no complete request line and headers since the connection opened or the last answer.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def use_guarded_protocol() -> None:
    """Make GuardedH11Protocol the HTTP protocol of every uvicorn server this process starts from now
    ("auto" is what Gradio's Config asks for; uvicorn takes a class where it expects its import path)."""
    HTTP_PROTOCOLS["auto"] = HTTP_PROTOCOLS["h11"] = GuardedH11Protocol
