"""What one client may upload: per-client allowances of bytes per minute (UPLOAD_MB_PER_MINUTE) and a
quota on Gradio's cache folder (CACHE_MAX_MB). A request is refused from its headers when its declared
size already would not fit, and is charged for each piece of its body as it arrives (webapp.guards.bodies),
so a size declared and never sent holds nothing, and a body longer than declared is cut off when it
passes the allowance; no one client can fill the disk until the hourly cleanup (README: Limits on a
public server)."""
from __future__ import annotations

import asyncio
import os
import time
from typing import Mapping

from .limits import MAX_BLOB_BYTES

UPLOAD = "/gradio_api/upload"             # files for an API call (gradio_client, the browser's file inputs)
BLOBS = "/gradio_api/component_server"    # the pad's images (Sketchpad.accept_blobs), held in memory
FORM_OVERHEAD = 64 * 1024                 # multipart headers and fields around a blob
RESCAN_SECONDS = 10.0                     # how often the cache folder's real size is measured
MAX_CLIENTS = 10_000                      # allowances remembered before full ones are forgotten
FULL = ("This server's upload space is full for now; uploads older than an hour are deleted. "
        "Draw on the pad, or try again later.")


def trusts_forwarded() -> bool:
    """Whether a proxy in front says whom it forwards for: on a Hugging Face Space, or TRUST_FORWARDED=1."""
    default = "1" if os.environ.get("SPACE_ID") else "0"
    return os.environ.get("TRUST_FORWARDED", default).strip().lower() in {"1", "true"}


def client_key(headers: Mapping[str, str], peer: str) -> str:
    """Who is asking: the socket's peer, or, behind a trusted proxy, the LAST address in X-Forwarded-For.
    The proxy appends the address it received the request from; whatever the client wrote comes before
    it, so the first entry is the client's own choice."""
    forwarded = headers.get("x-forwarded-for", "") if trusts_forwarded() else ""
    return forwarded.split(",")[-1].strip()[:64] or peer


class UploadGuard:
    """Per-client token buckets of upload bytes (refilled at `mb_per_minute` / 60 per second, holding at
    most a minute's worth) and a quota on the cache folder's size."""

    def __init__(self, cache_dir: str, mb_per_minute: float, cache_max_mb: float):
        self.cache_dir = cache_dir
        self.capacity, self.quota = mb_per_minute * 1e6, cache_max_mb * 1e6
        self.buckets: dict[str, tuple[float, float]] = {}      # client -> (bytes allowed now, when)
        self.cache_bytes, self.scanned_at = 0.0, -RESCAN_SECONDS

    @staticmethod
    def guards(path: str) -> bool:
        return path.rstrip("/").endswith((UPLOAD, BLOBS))

    def max_body(self, path: str) -> int:
        """The most bytes one request to `path` (an upload route) may send."""
        return int(self.capacity) if path.rstrip("/").endswith(UPLOAD) else MAX_BLOB_BYTES + FORM_OVERHEAD

    async def refusal(self, path: str, declared: int | None, client: str) -> tuple[int, str] | None:
        """(HTTP status, message) when a request declaring `declared` bytes cannot fit, else None.
        Nothing is charged here."""
        if path.rstrip("/").endswith(UPLOAD):
            if time.monotonic() - self.scanned_at > RESCAN_SECONDS:
                self.scanned_at = time.monotonic()
                self.cache_bytes = await asyncio.to_thread(folder_bytes, self.cache_dir)
            if self.cache_bytes + (declared or 0) > self.quota:
                return 507, FULL
        allowed = self._allowed(client, time.monotonic())
        if declared is not None and declared > allowed:
            return 429, self._too_many(declared - allowed)
        return None

    def charge(self, path: str, client: str, n: int) -> tuple[int, str] | None:
        """Charge `client` for `n` bytes that just arrived; (status, message) when they are over its
        allowance or the cache's quota, else None."""
        now = time.monotonic()
        allowed = self._allowed(client, now) - n
        self.buckets[client] = (max(allowed, 0.0), now)
        if len(self.buckets) > MAX_CLIENTS:
            self.forget_full(now)
        if allowed < 0:
            return 429, self._too_many(-allowed)
        if path.rstrip("/").endswith(UPLOAD):
            self.cache_bytes += n      # counted until the next scan measures it
            if self.cache_bytes > self.quota:
                return 507, FULL
        return None

    def _allowed(self, client: str, now: float) -> float:
        allowed, then = self.buckets.get(client, (self.capacity, now))
        return min(self.capacity, allowed + (now - then) * self.capacity / 60)

    def _too_many(self, missing: float) -> str:
        return (f"Too many uploads: this server accepts {self.capacity / 1e6:.0f} MB a minute per visitor. "
                f"Try again in {max(missing, 0) * 60 / self.capacity:.0f} s.")

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
