"""Gradio routes this app does not use, closed: each was a way for a visitor to make the server write
to its cache folder outside the upload guard. /gradio_api/process_recording takes an audio or video
recording (10 x 10 MB in 0.8 s, uncharged); /gradio_api/deep_link writes a session's whole state into
the cache on every call (40 MB a call after one large sketch). Neither has a component here."""
from __future__ import annotations

from starlette.responses import PlainTextResponse

CLOSED = ("/gradio_api/process_recording", "/gradio_api/deep_link")


class ClosedRoutes:
    """ASGI middleware answering 404 on the CLOSED paths, before Gradio sees the request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") in CLOSED:
            return await PlainTextResponse("Not served here.", status_code=404)(scope, receive, send)
        return await self.app(scope, receive, send)
