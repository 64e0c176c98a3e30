"""Counters the emulator keeps, readable as ``emu.stats`` and ``GET /_emulator/stats``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["EmulatorStats"]


@dataclass
class EmulatorStats:
    """Plain integer counters; ``as_dict()`` is what ``/_emulator/stats`` returns."""

    requests: int = 0  # every /api/v1 request, faulted or not
    creates: int = 0  # tasks accepted (charged), lost responses included
    polls: int = 0  # GET .../task/{id}
    credits_charged: int = 0
    credits_refunded: int = 0
    webhooks_sent: int = 0  # POSTs that reached the receiver (duplicates included)
    webhooks_lost: int = 0  # deliveries dropped on purpose by webhook_loss_rate
    webhooks_duplicated: int = 0  # deliveries sent a second time by webhook_duplicate_rate
    webhooks_failed: int = 0  # deliveries given up after the retries (receiver down / 5xx / 4xx)
    cdn_requests: int = 0
    cdn_requests_with_auth: int = 0  # must stay 0: the SDK never sends the key to the CDN
    cdn_errors: int = 0
    cdn_truncated: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    disconnects: int = 0
    lost_responses: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return dataclasses.asdict(self)
