"""What one client may send: an ASGI middleware in front of Gradio's upload routes that refuses, from
the request's headers and before a byte of its body is read, uploads over a client's per-minute
allowance (UPLOAD_MB_PER_MINUTE) and any upload once Gradio's cache folder holds CACHE_MAX_MB, so that
no one client can fill the disk until the hourly cleanup (README: Limits on a public server)."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Mapping

from starlette.responses import PlainTextResponse

from .limits import MAX_BLOB_BYTES

UPLOAD = "/gradio_api/upload"             # files for an API call (gradio_client, the browser's file inputs)
BLOBS = "/gradio_api/component_server"    # the pad's images (Sketchpad.accept_blobs), held in memory
FORM_OVERHEAD = 64 * 1024                 # multipart headers and fields around a blob
RESCAN_SECONDS = 10.0                     # how often the cache folder's real size is measured
MAX_CLIENTS = 10_000                      # allowances remembered before full ones are forgotten


def client_key(headers: Mapping[str, str], peer: str) -> str:
    """Who is asking: the socket's peer, or, behind a proxy that says who it forwards for (a Hugging
    Face Space, or TRUST_FORWARDED=1), the first address in X-Forwarded-For."""
    trust = os.environ.get("TRUST_FORWARDED", "1" if os.environ.get("SPACE_ID") else "0").strip() in {"1", "true"}
    forwarded = headers.get("x-forwarded-for", "") if trust else ""
    return forwarded.split(",")[0].strip()[:64] or peer


class UploadGuard:
    """Per-client token buckets of upload bytes (refilled at `mb_per_minute` / 60 per second, holding at
    most a minute's worth) and a quota on the cache folder's size."""

    def __init__(self, app, cache_dir: str, mb_per_minute: float, cache_max_mb: float):
        self.app, self.cache_dir = app, cache_dir
        self.capacity, self.quota = mb_per_minute * 1e6, cache_max_mb * 1e6
        self.buckets: dict[str, tuple[float, float]] = {}      # client -> (bytes allowed now, when)
        self.cache_bytes, self.scanned_at = 0.0, -RESCAN_SECONDS

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "").rstrip("/") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or not path.endswith((UPLOAD, BLOBS)):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = await self.refusal(path.endswith(UPLOAD), headers, (scope.get("client") or ("", 0))[0])
        if refusal is not None:
            status, message = refusal
            return await PlainTextResponse(message, status_code=status,
                                           headers={"Retry-After": "60"} if status in (429, 507) else None)(
                scope, receive, send)
        return await self.app(scope, receive, send)

    async def refusal(self, is_upload: bool, headers: dict[str, str], peer: str) -> tuple[int, str] | None:
        """(HTTP status, message) when this request must be refused, else None (and it is charged)."""
        try:
            length = int(headers["content-length"])
        except (KeyError, ValueError):
            return 411, "Uploads must state their Content-Length."
        if not is_upload and length > MAX_BLOB_BYTES + FORM_OVERHEAD:
            return 413, f"An image of the drawing may have up to {MAX_BLOB_BYTES // 1024} kB."
        if length > self.capacity:
            return 413, f"This server accepts uploads of up to {self.capacity / 1e6:.0f} MB a minute per visitor."
        if is_upload:
            if time.monotonic() - self.scanned_at > RESCAN_SECONDS:
                self.scanned_at = time.monotonic()
                self.cache_bytes = await asyncio.to_thread(folder_bytes, self.cache_dir)
            if self.cache_bytes + length > self.quota:
                return 507, ("This server's upload space is full for now; uploads older than an hour are deleted. "
                             "Draw on the pad, or try again later.")
        client, now = client_key(headers, peer), time.monotonic()
        allowed, then = self.buckets.get(client, (self.capacity, now))
        allowed = min(self.capacity, allowed + (now - then) * self.capacity / 60)
        if length > allowed:
            self.buckets[client] = (allowed, now)
            return 429, (f"Too many uploads: this server accepts {self.capacity / 1e6:.0f} MB a minute per visitor. "
                         f"Try again in {(length - allowed) * 60 / self.capacity:.0f} s.")
        self.buckets[client] = (allowed - length, now)
        if is_upload:
            self.cache_bytes += length     # counted until the next scan measures it
        if len(self.buckets) > MAX_CLIENTS:
            self.forget_full(now)
        return None

    def forget_full(self, now: float) -> None:
        """Drop the allowances that have refilled: such a client is no different from a new one."""
        for client, (allowed, then) in list(self.buckets.items()):
            if allowed + (now - then) * self.capacity / 60 >= self.capacity:
                del self.buckets[client]


def folder_bytes(folder: str) -> int:
    """Total size of the files under `folder` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:     # deleted meanwhile by the cache cleanup
                pass
    return total
