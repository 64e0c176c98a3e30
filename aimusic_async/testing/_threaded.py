"""Thread mode: an emulator on its own event loop in a daemon thread, for synchronous code."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._server import Emulator

__all__ = ["EmulatorThread"]

# Starting binds two sockets; anything slower than this means something is badly wrong.
_START_TIMEOUT = 30.0


class EmulatorThread:
    """Owns the thread and loop; ``start()`` returns once both listeners are up."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="aimusic-emulator", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the emulator thread did not start in time")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.emulator.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await self.emulator.close()

    def stop(self) -> None:
        if self._thread.is_alive() and self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(_START_TIMEOUT)
