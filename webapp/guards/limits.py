"""What one visitor may cost a public server: every bound read from the environment in one place
(README: Limits on a public server)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from train import MnistSplits, TrainConfig, planned_steps


def env_number(name: str, default: float, kind: type = float) -> float:
    """The environment variable `name` as a number of `kind`, or `default` where it is unset; ValueError
    names a malformed one."""
    text = os.environ.get(name, "").strip()
    try:
        return kind(text) if text else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


PREDICT_CONCURRENCY = env_number("PREDICT_CONCURRENCY", 4, int)   # predictions served at once
# One intra-op thread, not torch's default of one per core: a one-digit forward pass gains nothing from
# more, and on a busy 2-core server every multi-threaded op waits for a preempted thread
# (docs/results.md: Serving under load).
TORCH_THREADS = env_number("TORCH_THREADS", 1, int)
# The training process may use every core, but only while the server is quiet (webapp.training.cores).
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
TRAINING_THREADS = env_number("TRAINING_THREADS", 0, int) or CORES
MAX_UPLOAD = "10mb"     # largest file a visitor may upload: the pad sends ~20 kB, a phone photo a few MB
CACHE_CLEANUP = (3600, 3600)   # every hour, delete uploads older than an hour

# What one sketch may hold. The pad sends a background, one layer and the composite, 448 x 448 each.
MAX_PIXELS = 4096 * 4096            # pixels per image, from its header: a 16-megapixel photo fits
MAX_SKETCH_LAYERS = 4               # layers per sketch
MAX_SKETCH_PIXELS = MAX_PIXELS      # pixels of all its images together: one photo, or the pad's 3 many times
# The pad's blob store (Sketchpad.accept_blobs): each stroke's images are posted, then read by the
# prediction that follows. A blob nobody asks for (a skipped change, a hostile client) is freed after
# BLOB_TTL; what is held at once is capped per client and per server.
MAX_BLOB_BYTES = 2 * 1024 * 1024    # one posted image: the pad's are ~20 kB
BLOB_TTL = 120.0                    # seconds a posted image waits for its prediction
BLOB_CLIENT_MB = env_number("BLOB_CLIENT_MB", 16)     # held for one client
BLOB_SERVER_MB = env_number("BLOB_SERVER_MB", 128)    # held for all clients
BLOB_CLIENT_IDS = 64                # sketches waiting for one client (an empty blob costs no bytes)
BLOB_SERVER_IDS = 2048              # sketches waiting for all clients
# Uploads (/gradio_api/upload, and the pad's posts): bytes per client per minute, allowed in bursts of
# up to a minute's worth, and the total size of Gradio's cache folder, past which uploads are refused
# until the hourly cleanup (CACHE_CLEANUP) frees space.
UPLOAD_MB_PER_MINUTE = env_number("UPLOAD_MB_PER_MINUTE", 30)
CACHE_MAX_MB = env_number("CACHE_MAX_MB", 1000)
# Request bodies (webapp.guards.bodies), counted as they arrive whatever their headers declare. An API
# call carries a sketch as references to uploaded files: a few kB. Uploads have their own allowance.
MAX_BODY = env_number("MAX_BODY_KB", 1024, int) * 1024     # bytes of any other request's body
BODY_SECONDS = 120.0                # a whole body, from its headers: 10 MB at ~0.7 Mbit/s
BODY_IDLE_SECONDS = 20.0            # between two pieces of a body
# Connections (webapp.guards.connections). Each browser tab holds one or two; a slow or idle client is
# cut off so that it cannot hold a socket and a file descriptor for long.
MAX_CONNECTIONS = env_number("MAX_CONNECTIONS", 1000, int)        # open at once, all clients
ADDRESS_CONNECTIONS = env_number("ADDRESS_CONNECTIONS", 128, int)  # open at once from one address
HEADER_SECONDS = 10.0               # to send a request's headers, from connecting or the last answer
KEEP_ALIVE_SECONDS = 5              # an idle connection between requests (uvicorn's default)
MAX_HEADER_BYTES = 32 * 1024        # a request line and its headers (h11 keeps 16 kB by default)
# Sessions whose state Gradio keeps, the least recently used dropped beyond (a dropped visitor's page
# starts over: its digits taught, runs and picked model). Gradio copies the page's whole configuration
# into each session it sees, ~210 kB here, and keeps it until the session is dropped: its default of
# 10,000 let one client that opens a session per call hold ~2 GB within minutes.
SESSIONS_KEPT = env_number("SESSIONS_KEPT", 1000, int)
LOG_LINES_PER_MINUTE = 120          # log records written per minute and logger; the rest are counted


class OverServerLimit(Exception):
    """A run this server refuses to start: it would hold the one training slot too long."""


@dataclass(frozen=True)
class ServerLimits:
    """What one visitor's run may cost the server, from the environment."""
    max_steps: int = 50_000     # TRAIN_MAX_STEPS: optimiser steps per run
    max_seconds: float = 900.0  # TRAIN_MAX_SECONDS: wall-clock time after which a run is stopped and saved
    keep_runs: int = 20         # RUNS_KEEP: runs trained here kept on disk, newest first (~1 MB each)
    max_runs_mb: float = 100.0  # RUNS_MAX_MB: their total size in MB; the oldest are deleted first

    @classmethod
    def from_env(cls) -> "ServerLimits":
        """Defaults overridden by the variables named above; ValueError names a malformed one."""
        return numbers_from_env(cls, ("TRAIN_MAX_STEPS", "TRAIN_MAX_SECONDS", "RUNS_KEEP", "RUNS_MAX_MB"))

    def check(self, config: TrainConfig, data: MnistSplits) -> None:
        """Refuse, before any training, a run that would hold the server's one slot too long."""
        steps = planned_steps(config, data)
        cost = math.ceil(steps * config.step_cost())      # a step of a larger network counts as more than one
        if cost > self.max_steps:
            larger = (f", which for a network of {config.model_config().parameters():,} weights counts as "
                      f"{cost:,}" if cost > steps else "")
            raise OverServerLimit(f"{config.epochs} epochs at batch size {config.batch_size} is {steps:,} steps"
                                  f"{larger}; this server allows {self.max_steps:,} per run. Use fewer epochs, a "
                                  f"larger batch size{' or a smaller network' if larger else ''}.")


def numbers_from_env(cls, variables: tuple[str, ...]):
    """The dataclass `cls` with each numeric field, in order, taken from its variable where that is set;
    ValueError names a malformed one."""
    return cls(**{f.name: env_number(var, f.default, int if f.type in ("int", int) else float)
                  for f, var in zip(fields(cls), variables)})


def training_allowed() -> bool:
    """False when ALLOW_TRAINING is 0/false/no/off: a read-only deployment that only predicts."""
    return os.environ.get("ALLOW_TRAINING", "1").strip().lower() not in {"0", "false", "no", "off"}
