"""EmulatorConfig: every knob of the emulator, with defaults that suit the demo."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EmulatorConfig"]

# A user with a fresh key should never hit the 403 by accident; tests set their own balance.
DEFAULT_INITIAL_CREDITS = 1_000_000
# Real generations take minutes; the demo wants to show progress without making people wait.
DEFAULT_GENERATION_TIME = (2.0, 6.0)
# Share of the generation time spent answering "not ready" before clips appear.
DEFAULT_NOT_READY_FRACTION = 0.3
# A clip's song lasts 0.75-1.25 times this (chosen by its prompt): long enough to hear a tune,
# short enough to stay small (6 s of 22.05 kHz mono 16-bit audio is about 260 KB).
DEFAULT_AUDIO_SECONDS = 6.0
# Half of CD quality: a melody and a bass line need no more, and the files stay half as big.
AUDIO_SAMPLE_RATE = 22_050
# Rendered songs kept for the CDN (a few MB): a batch or a benchmark fetches the same few songs
# many times (one prompt gives the same two songs), and each is rendered once.
SONG_CACHE_SIZE = 32
# Signs webhooks whose start request carried no webhook_secret (the provider's "managed" one).
DEFAULT_WEBHOOK_SECRET = "emulator-default-webhook-secret"

_RATES = (
    "clip_failure_rate",
    "server_error_rate",
    "disconnect_rate",
    "lost_response_rate",
    "webhook_loss_rate",
    "webhook_duplicate_rate",
    "cdn_error_rate",
    "cdn_truncate_rate",
    "not_ready_fraction",
    "chirp_echo_rate",
)


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves. Rates are probabilities in [0, 1]; times are seconds.

    Every random decision (timings, failures, faults) comes from two ``random.Random`` streams
    derived from ``seed``, so the same requests in the same order give the same answers; what a
    task is (timings, failures, ids) never depends on how often it is polled.
    """

    seed: int = 0
    # Keys it accepts; empty means "generate one" (see ``Emulator.api_key``).
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    initial_credits: int = DEFAULT_INITIAL_CREDITS
    initial_extra_credits: int = 0
    generation_time: tuple[float, float] = DEFAULT_GENERATION_TIME
    clip_failure_rate: float = 0.0
    # Start requests per second per key (token bucket); None = unlimited.
    create_rate_limit: float | None = None
    # Bucket size: how many starts may arrive back to back. 1 = strictly spaced.
    create_rate_burst: float = 1.0
    latency: float = 0.0
    server_error_rate: float = 0.0
    disconnect_rate: float = 0.0
    lost_response_rate: float = 0.0
    webhook_loss_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    default_webhook_secret: str = field(default=DEFAULT_WEBHOOK_SECRET, repr=False)
    # Also send song.streaming when the first clip starts streaming (the current guide says
    # deliveries happen on streaming too). Off by default: most receivers only need the end.
    webhook_streaming: bool = False
    # Attempts per webhook delivery (connection errors and 5xx are retried, 4xx never).
    webhook_attempts: int = 3
    webhook_retry_delay: float = 0.2
    cdn_error_rate: float = 0.0
    # Share of CDN file answers cut off mid-body (full Content-Length promised, half sent).
    cdn_truncate_rate: float = 0.0
    audio_seconds: float = DEFAULT_AUDIO_SECONDS
    not_ready_fraction: float = DEFAULT_NOT_READY_FRACTION
    # Clips pass through "streaming" (playable preview) before "succeeded".
    streaming: bool = True
    # Share of sonic tasks whose clips report mv in the chirp- spelling (the live API does).
    chirp_echo_rate: float = 0.25
    host: str = "127.0.0.1"
    port: int = 0
    cdn_port: int = 0

    def __post_init__(self) -> None:
        lo, hi = self.generation_time
        if not 0 <= lo <= hi:
            raise ValueError("generation_time must be (min, max) with 0 <= min <= max")
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.create_rate_limit is not None and self.create_rate_limit <= 0:
            raise ValueError("create_rate_limit must be positive or None")
        if self.create_rate_burst < 1:
            raise ValueError("create_rate_burst must be at least 1")
        if self.latency < 0 or self.audio_seconds <= 0 or self.webhook_attempts < 1:
            raise ValueError("latency >= 0, audio_seconds > 0 and webhook_attempts >= 1 required")
        if self.initial_credits < 0 or self.initial_extra_credits < 0:
            raise ValueError("initial credits cannot be negative")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EmulatorConfig:
        """Build from a JSON-like mapping (lists become tuples); unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown emulator config fields: {sorted(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)

    @classmethod
    def from_json_file(cls, path: str | Path) -> EmulatorConfig:
        """Read a JSON object of config fields from ``path``."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the config file must hold a JSON object")
        return cls.from_mapping(data)
