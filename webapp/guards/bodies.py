"""Every request body bounded as it arrives: an ASGI middleware in front of the whole app that counts
each piece of a body as the server hands it over, whatever the headers declare (a Content-Length,
chunked, or both), and answers at once when the body passes its route's limit (413), stalls or takes
too long (408), or passes the client's upload allowance or the cache's quota (429, 507:
webapp.guards.upload_guard). The app then sees the client gone, and what it still sends is dropped.
Without it a 200 MB JSON body to the queue cost the server +717 MB before anything looked at it.
Limits live in webapp.guards.limits (README: Limits on a public server)."""
from __future__ import annotations

import asyncio
import time

from starlette.responses import PlainTextResponse

from .limits import BODY_IDLE_SECONDS, BODY_SECONDS, MAX_BODY
from .upload_guard import UploadGuard, client_key


class Refused(Exception):
    """A request answered by the guard before the app finished reading it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class BodyGuard:
    """The middleware: per-route body limits (MAX_BODY, or the upload guard's for its routes), time
    limits on the body (BODY_SECONDS in all, BODY_IDLE_SECONDS between pieces), upload charging."""

    def __init__(self, app, uploads: UploadGuard):
        self.app, self.uploads = app, uploads

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = client_key(headers, (scope.get("client") or ("", 0))[0])
        upload = scope.get("method") == "POST" and self.uploads.guards(path)
        limit = self.uploads.max_body(path) if upload else MAX_BODY
        declared = _declared(headers)
        answered = responding = False     # the guard answered; the app began its answer

        async def answer(refusal: Refused) -> None:
            nonlocal answered
            if not answered:
                answered = True
                if responding:       # too late for a status: the connection is closed instead
                    return
                retry = {"Retry-After": "60"} if refusal.status in (429, 507) else {}
                await PlainTextResponse(refusal.message, status_code=refusal.status,
                                        headers={"Connection": "close", **retry})(scope, _nothing, send)

        try:
            if declared is not None and declared > limit:
                raise Refused(413, _too_large(limit))
            if upload and (refusal := await self.uploads.refusal(path, declared, client)):
                raise Refused(*refusal)
        except Refused as refusal:
            return await answer(refusal)

        received, more, started = 0, True, time.monotonic()

        async def counted_receive():
            nonlocal received, more
            if answered:
                return {"type": "http.disconnect"}
            if not more:             # the body is in: what follows is the wait for a disconnect
                return await receive()
            try:
                wait = min(BODY_IDLE_SECONDS, started + BODY_SECONDS - time.monotonic())
                try:
                    message = await asyncio.wait_for(receive(), max(wait, 0.0))
                except asyncio.TimeoutError:
                    raise Refused(408, "The request's body came too slowly; send it again.") from None
                if message["type"] == "http.request":
                    piece = len(message.get("body", b""))
                    received += piece
                    more = message.get("more_body", False)
                    if received > limit:
                        raise Refused(413, _too_large(limit))
                    if upload and piece and (refusal := self.uploads.charge(path, client, piece)):
                        raise Refused(*refusal)
                return message
            except Refused as refusal:
                await answer(refusal)
                return {"type": "http.disconnect"}

        async def guarded_send(message):
            nonlocal responding
            if not answered:
                responding = True
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not answered:
                raise       # the app's own failure: Gradio's handlers report it
            # Refused midway: the app failed on the body it was denied; the client has its answer.


async def _nothing():
    return {"type": "http.disconnect"}


def _declared(headers: dict[str, str]) -> int | None:
    """The Content-Length a request declares, or None (chunked, missing or malformed)."""
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def _too_large(limit: int) -> str:
    return f"The request is too large: this server reads up to {limit // 1024:,} kB here."
