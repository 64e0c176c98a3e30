"""Start the emulator in a separate process for one scenario and read its counters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["EmulatorProcess", "get_json"]

# Importing aiohttp and pydantic and binding two listeners takes about a second; a loaded
# machine may need several.
STARTUP_TIMEOUT = 60.0
_ROOT = Path(__file__).resolve().parent.parent


def get_json(url: str) -> Any:
    """GET a JSON document (loopback only; used outside measured windows)."""
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


class EmulatorProcess:
    """``with EmulatorProcess(seed=1, generation_time=(0, 0)) as emu:`` -> ``emu.base_url``..."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.base_url = ""
        self.api_key = ""
        self.info_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._emuproc", "--config", json.dumps(self.config)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
            env=env,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        found: dict[str, str] = {}
        while len(found) < 3:
            line = self._proc.stdout.readline()
            if not line:
                self.__exit__(None, None, None)
                raise RuntimeError("the emulator process exited before it was ready")
            name, sep, value = line.strip().partition("=")
            if sep:
                found[name] = value
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the emulator process did not start in time")
        self.base_url = found["AIMUSIC_BASE_URL"]
        self.api_key = found["AIMUSIC_API_KEY"]
        self.info_url = found["BENCH_INFO_URL"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def stats(self) -> dict[str, int]:
        """The emulator's counters (``GET /_emulator/stats``)."""
        data: dict[str, int] = get_json(f"{self.base_url}/_emulator/stats")
        return data

    def timings(self) -> list[dict[str, Any]]:
        """Every task in creation order: ``id``, ``created``, ``done`` (monotonic seconds)."""
        data: list[dict[str, Any]] = get_json(f"{self.info_url}/timings")
        return data

    def cpu(self) -> float:
        """CPU seconds the emulator process has used so far."""
        return float(get_json(f"{self.info_url}/cpu")["cpu"])
