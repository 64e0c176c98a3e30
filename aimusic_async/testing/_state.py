"""The emulator's world: accounts, tasks, clips, personas and their lifecycle, computed from each
task's stored schedule when asked (nothing runs on a timer, so idle tasks cost only records)."""

from __future__ import annotations

import heapq
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._config import EmulatorConfig
from ._media import clip_seconds
from ._stats import EmulatorStats

__all__ = ["Account", "ClipRecord", "EmulatorState", "TaskRecord"]

# Clips start running a quarter of the way from appearing to done, and stream from 60 % on.
_RUN_AT = 0.25
_STREAM_AT = 0.6
# auto_concat: the new section is done 70 % of the way; the rest is joining it to the song.
_PART_DONE = 0.7
# Other clips of a task finish 10-40 % of the clip window before the last one: visibly apart.
_FINISH_SPREAD = (0.1, 0.4)

_FAILURE_REASONS = (
    "Generation failed upstream. Credits were refunded.",
    "The song description needs moderation review.",
    "Task failed due to timeout. Credits were previously refunded.",
)
_NOT_READY_TEXT = "Task is still processing. Please wait a few seconds and try again."
# The request fields a song's tune is chosen from, in order (sonic, producer, riffusion, nuro).
_MUSIC_FIELDS = (
    "gpt_description_prompt",
    "prompt",
    "description",
    "tags",
    "sound",
    "lyrics",
    "instruction",
    "title",
)
# Fields naming the clip a task works on (stems, concat, remaster ... sound like their source).
_SOURCE_FIELDS = ("continue_clip_id", "clip_id", "sample_clip_id")


def _iso(ts: float) -> str:
    """ISO-8601 with milliseconds and a Z, as the API writes created_at."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass
class Account:
    """One API key's balance. Extra credits are spent first, as the credits guide says."""

    credits: int
    extra_credits: int = 0

    @property
    def total(self) -> int:
        return self.credits + self.extra_credits


@dataclass(slots=True)
class ClipRecord:
    """One clip: generated, uploaded, a stem or a vocal extract. Times are monotonic seconds."""

    clip_id: str
    key: str = field(repr=False)  # the owner's API key: never in repr or test output
    origin: str  # "generated" | "upload" | "stem" | "vox"
    task_id: str | None
    title: str
    tags: str
    lyrics: str
    mv: str
    created_at: str
    duration: str
    t_run: float = 0.0
    t_stream: float = 0.0
    t_done: float = 0.0
    failed: bool = False
    error_message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # What the clip's audio is composed from (seed, prompt text, place in its task).
    music: str = field(default="", repr=False)

    def state(self, now: float, streaming: bool) -> str:
        """pending / running / streaming / succeeded / failed at monotonic time ``now``."""
        if now >= self.t_done:
            return "failed" if self.failed else "succeeded"
        if streaming and not self.failed and now >= self.t_stream:
            return "streaming"
        return "running" if now >= self.t_run else "pending"


@dataclass(slots=True)
class TaskRecord:
    """One accepted task as the emulator holds it (``emu.tasks[task_id]``)."""

    task_id: str
    key: str = field(repr=False)  # the owner's API key: never in repr or test output
    family: str  # "sonic" | "producer" | "riffusion"
    operation: str  # task_type (sonic create) or route name ("mashup", "stems_full", ...)
    # the start request's JSON exactly as received (may hold a webhook_secret: kept out of repr)
    body: dict[str, Any] = field(repr=False)
    created: float  # monotonic
    created_wall: float  # unix seconds
    t_ready: float  # clips appear (before: "not ready" answers)
    t_done: float  # every clip terminal
    price: int
    kind: str = "clips"  # "clips" | "voice" (create-voice answers a persona)
    clips: list[ClipRecord] = field(default_factory=list)
    result: dict[str, Any] | None = None
    charged_extra: int = 0
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_event_prefix: str = "song"
    # auto_concat tasks: answers pair each part ("replaced"/"extended") with its "full" song
    pair_key: str | None = None
    parts: list[ClipRecord] = field(default_factory=list)

    @property
    def task_type(self) -> str:
        return self.operation

    def failed(self) -> bool:
        """True when the task has produced clips and every one of them failed."""
        return bool(self.clips) and all(c.failed for c in self.clips)


class EmulatorState:
    """All mutable emulator state plus the seeded RNG every random decision comes from."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        # Two streams from one seed: what a task is (timings, failures, ids) depends only on the
        # order of start requests, never on how often it is polled; faults and the choice of
        # "not ready" shape come from the second stream.
        self.rng = random.Random(config.seed)
        self.fault_rng = random.Random(f"{config.seed}:faults")
        self.stats = EmulatorStats()
        keys = config.api_keys or (f"sk-emu-{secrets.token_hex(12)}",)
        self.api_keys: tuple[str, ...] = tuple(keys)
        self.accounts: dict[str, Account] = {
            k: Account(config.initial_credits, config.initial_extra_credits) for k in keys
        }
        self.tasks: dict[str, TaskRecord] = {}
        self.clips: dict[str, ClipRecord] = {}
        self.personas: dict[str, dict[str, Any]] = {}
        self.aligned_paid: set[tuple[str, str]] = set()
        self.cdn_url = ""
        # (due monotonic time, sequence, key, amount, extra part, task id)
        self._refunds: list[tuple[float, int, str, int, int, str]] = []
        self._refund_seq = 0
        # key -> (tokens, last refill time)
        self._buckets: dict[str, tuple[float, float]] = {}
        # Balances are read and set from the caller's thread in thread mode.
        self.lock = threading.Lock()

    # -- time and randomness ---------------------------------------------------------------
    @staticmethod
    def now() -> float:
        return time.monotonic()

    def chance(self, rate: float) -> bool:
        """A seeded coin flip about a task's content; a zero rate draws nothing."""
        return rate > 0 and self.rng.random() < rate

    def fault(self, rate: float) -> bool:
        """A seeded coin flip for a fault (network, webhook, CDN); a zero rate draws nothing."""
        return rate > 0 and self.fault_rng.random() < rate

    def new_id(self, rng: random.Random | None = None) -> str:
        """A UUID4-shaped id drawn from a seeded RNG (reproducible like everything else)."""
        return str(uuid.UUID(int=(rng or self.rng).getrandbits(128), version=4))

    # -- credits ---------------------------------------------------------------------------
    def settle(self) -> None:
        """Apply refunds whose failing clip has reached its end."""
        now = self.now()
        heap = self._refunds
        if not heap or heap[0][0] > now:
            return
        with self.lock:
            while heap and heap[0][0] <= now:
                _, _, key, amount, extra, _ = heapq.heappop(heap)
                account = self.accounts[key]
                account.extra_credits += extra
                account.credits += amount - extra
                self.stats.credits_refunded += amount

    def balance(self, key: str) -> Account:
        self.settle()
        return self.accounts[key]

    def can_pay(self, key: str, amount: int) -> bool:
        return self.balance(key).total >= amount

    def charge(self, key: str, amount: int) -> int:
        """Take ``amount`` (extra credits first); returns the part taken from extra credits."""
        account = self.balance(key)
        with self.lock:
            extra = min(account.extra_credits, amount)
            account.extra_credits -= extra
            account.credits -= amount - extra
            self.stats.credits_charged += amount
        return extra

    def _schedule_refunds(self, task: TaskRecord) -> None:
        """Refund rule: each failed clip returns price // clips; all failed returns everything."""
        failed = sorted((c for c in task.clips if c.failed), key=lambda c: c.t_done)
        if not failed or task.price == 0:
            return
        share = task.price // len(task.clips)
        extra_left = task.charged_extra
        for i, clip in enumerate(failed):
            amount = share
            if len(failed) == len(task.clips) and i == len(failed) - 1:
                amount = task.price - share * (len(failed) - 1)
            extra = min(extra_left, amount)  # give back extra credits first, as spent
            extra_left -= extra
            self._refund_seq += 1
            entry = (clip.t_done, self._refund_seq, task.key, amount, extra, task.task_id)
            heapq.heappush(self._refunds, entry)

    # -- rate limit ------------------------------------------------------------------------
    def take_start_token(self, key: str) -> float | None:
        """None when a start may proceed, else the seconds until the next token."""
        rate = self.config.create_rate_limit
        if rate is None:
            return None
        burst = self.config.create_rate_burst
        now = self.now()
        tokens, last = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    # -- lookups ---------------------------------------------------------------------------
    def clip_for(self, key: str, clip_id: Any) -> ClipRecord | None:
        """The clip if it exists for this key and has appeared (its task is past not-ready)."""
        if not isinstance(clip_id, str):
            return None
        clip = self.clips.get(clip_id)
        if clip is None or clip.key != key:
            return None
        if clip.task_id is not None:
            task = self.tasks.get(clip.task_id)
            if task is not None and self.now() < task.t_ready:
                return None
        return clip

    def task_for(self, key: str, task_id: str, family: str) -> TaskRecord | None:
        task = self.tasks.get(task_id)
        if task is None or task.key != key or task.family != family:
            return None
        return task

    # -- creation --------------------------------------------------------------------------
    def add_clip(
        self,
        key: str,
        origin: str,
        *,
        title: str = "",
        tags: str = "",
        lyrics: str = "",
        mv: str = "",
        task_id: str | None = None,
        **extra: Any,
    ) -> ClipRecord:
        """A clip that exists and is finished now (uploads, stems, vocal extracts)."""
        music = f"{self.config.seed}\n{origin}\n{title}"
        # This draw is not used, but keeps every later id and fault of a seed where it was.
        self.rng.random()
        clip = ClipRecord(
            clip_id=self.new_id(),
            key=key,
            origin=origin,
            task_id=task_id,
            title=title,
            tags=tags,
            lyrics=lyrics,
            mv=mv,
            created_at=_iso(time.time()),
            duration=f"{clip_seconds(music, self.config.audio_seconds):.2f}",
            extra=dict(extra),
            music=music,
        )
        self.clips[clip.clip_id] = clip
        return clip

    def new_task(
        self,
        key: str,
        family: str,
        operation: str,
        body: dict[str, Any],
        *,
        price: int,
        clips: list[dict[str, Any]],
        kind: str = "clips",
        result: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        event_prefix: str = "song",
        origin: str = "generated",
        pair_key: str | None = None,
    ) -> TaskRecord:
        """Charge, schedule and store a task. ``clips`` holds per-clip fields (title, tags...)."""
        cfg = self.config
        now, wall = self.now(), time.time()
        gen = self.rng.uniform(*cfg.generation_time)
        t_ready = now + gen * cfg.not_ready_fraction
        t_done = now + gen
        task = TaskRecord(
            task_id=self.new_id(),
            key=key,
            family=family,
            operation=operation,
            body=body,
            created=now,
            created_wall=wall,
            t_ready=t_ready,
            t_done=t_done,
            price=price,
            kind=kind,
            result=result,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_event_prefix=event_prefix,
            pair_key=pair_key,
        )
        task.charged_extra = self.charge(key, price)
        window = t_done - t_ready
        prompt = self._music_text(body)
        for i, fields in enumerate(clips):
            if i == len(clips) - 1:
                done = t_done  # the last clip defines "done" = created + generation time
            else:
                done = t_done - window * self.rng.uniform(*_FINISH_SPREAD)
            failed = self.chance(cfg.clip_failure_rate)
            span = done - t_ready
            fields = dict(fields)
            # Each clip of a task is its own take on the prompt.
            music = f"{cfg.seed}\n{prompt}\n{i}"
            # This draw is not used, but keeps every later id and fault of a seed where it was.
            self.rng.random()
            clip = ClipRecord(
                clip_id=self.new_id(),
                key=key,
                origin=origin,
                task_id=task.task_id,
                title=fields.pop("title", ""),
                tags=fields.pop("tags", ""),
                lyrics=fields.pop("lyrics", ""),
                mv=fields.pop("mv", ""),
                created_at=_iso(wall),
                duration=f"{clip_seconds(music, cfg.audio_seconds):.2f}",
                t_run=t_ready + span * _RUN_AT,
                t_stream=t_ready + span * _STREAM_AT,
                t_done=done,
                failed=failed,
                error_message=self.rng.choice(_FAILURE_REASONS) if failed else None,
                extra=fields,
                music=music,
            )
            task.clips.append(clip)
            self.clips[clip.clip_id] = clip
            if pair_key is not None:
                task.parts.append(self._part_of(clip, t_ready))
        if kind == "voice" and self.chance(cfg.clip_failure_rate):
            task.result = {**(result or {}), "failed": True}
        self._schedule_refunds(task)
        if kind == "voice" and task.result and task.result.get("failed"):
            self._refund_whole(task)
        self.tasks[task.task_id] = task
        self.stats.creates += 1
        return task

    def _music_text(self, body: dict[str, Any]) -> str:
        """The prompt text a task's songs are composed from; a task on an existing clip
        without text of its own sounds like that clip."""
        parts = [
            f"{name}={value}"
            for name in _MUSIC_FIELDS
            if isinstance(value := body.get(name), str) and value.strip()
        ]
        if parts:
            return "\n".join(parts)
        for name in _SOURCE_FIELDS:
            ref = body.get(name)
            source = self.clips.get(ref) if isinstance(ref, str) else None
            if source is not None:
                return source.music
        return ""

    def _part_of(self, full: ClipRecord, t_ready: float) -> ClipRecord:
        """The new section of an auto_concat task: done when the join starts (70 % in)."""
        done = t_ready + (full.t_done - t_ready) * _PART_DONE
        span = done - t_ready
        part = ClipRecord(
            clip_id=self.new_id(),
            key=full.key,
            origin=full.origin,
            task_id=full.task_id,
            title=full.title,
            tags=full.tags,
            lyrics=full.lyrics,
            mv=full.mv,
            created_at=full.created_at,
            duration=f"{float(full.duration) * 0.3:.2f}",
            t_run=t_ready + span * _RUN_AT,
            t_stream=t_ready + span * _STREAM_AT,
            t_done=done,
            failed=full.failed,
            error_message=full.error_message,
            extra=dict(full.extra),
            music=full.music + "\npart",
        )
        self.clips[part.clip_id] = part
        return part

    def _refund_whole(self, task: TaskRecord) -> None:
        self._refund_seq += 1
        entry = (
            task.t_done,
            self._refund_seq,
            task.key,
            task.price,
            task.charged_extra,
            task.task_id,
        )
        heapq.heappush(self._refunds, entry)

    # -- answers ---------------------------------------------------------------------------
    def not_ready(self) -> tuple[int, dict[str, Any]]:
        """One of the documented "not ready yet" answers, picked by the seeded RNG."""
        pick = self.fault_rng.randrange(3)
        if pick == 0:
            return 202, {"code": 202, "type": "not_ready", "error": _NOT_READY_TEXT}
        if pick == 1:
            return 200, {"type": "not_ready", "message": _NOT_READY_TEXT}
        return 200, {"code": 200, "message": "success"}

    def media_urls(self, clip: ClipRecord) -> dict[str, str]:
        base = self.cdn_url
        return {
            "audio_url": f"{base}/audio/{clip.clip_id}.wav",
            "image_url": f"{base}/image/{clip.clip_id}.png",
        }

    def clip_json(self, clip: ClipRecord, now: float) -> dict[str, Any]:
        """The documented sonic clip object at time ``now``."""
        state = clip.state(now, self.config.streaming)
        urls = self.media_urls(clip)
        audio: str | None = None
        if state == "succeeded":
            audio = urls["audio_url"]
        elif state == "streaming":
            audio = urls["audio_url"] + "?stream=1"  # a preview, not the final file
        out: dict[str, Any] = {
            "clip_id": clip.clip_id,
            "state": state,
            "title": clip.title,
            "tags": clip.tags,
            "lyrics": clip.lyrics,
            "image_url": urls["image_url"] if state != "pending" else None,
            "audio_url": audio,
            "video_url": None,
            "created_at": clip.created_at,
            "mv": clip.mv,
            "duration": clip.duration if state == "succeeded" else None,
        }
        out.update(clip.extra)
        if state == "failed":
            out["error_message"] = clip.error_message
        return out
