"""A local emulator of the AI Music API for tests, the demo and benchmarks, written from the
wire contract alone: it imports nothing from the client side.

    async with Emulator(EmulatorConfig(seed=1, generation_time=(0.2, 0.5))) as emu:
        emu.base_url, emu.api_key, emu.stats
"""

from ._config import EmulatorConfig
from ._server import Emulator
from ._state import Account, ClipRecord, TaskRecord
from ._stats import EmulatorStats
from ._webhooks import sign as sign_webhook

__all__ = [
    "Account",
    "ClipRecord",
    "Emulator",
    "EmulatorConfig",
    "EmulatorStats",
    "TaskRecord",
    "sign_webhook",
]
