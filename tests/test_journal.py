"""The batch journal: durable states, group commit, exclusivity, no SQLite on the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from blockbuster import blockbuster_ctx

from aimusic_async import Journal, JournalError, JournalInUseError
from aimusic_async import _constants as C
from aimusic_async._journal import fingerprint


def _read_states(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT key, state FROM jobs").fetchall())
    finally:
        conn.close()


def _modes(folder: Path, pattern: str) -> dict[str, int]:
    return {f.name: f.stat().st_mode & 0o777 for f in folder.glob(pattern)}


def _contents(folder: Path, pattern: str) -> bytes:
    return b"".join(f.read_bytes() for f in folder.glob(pattern))


async def test_lifecycle_is_durable_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    fp = fingerprint("sonic.create", {"title": "a"})
    async with Journal(path) as journal:
        before = await journal.plan([("a", "sonic.create", fp, {"title": "a"})])
        assert before == {}
        await journal.mark_starting("a")
        await journal.mark_started("a", "task-1", "sonic")
        await journal.mark_finished("a", {"task_id": "task-1", "clips": []})
        await journal.set_files("a", ["/x/a.wav"])
    # A second process (a fresh instance) sees everything that was committed.
    async with Journal(path) as journal:
        again = await journal.plan([("a", "sonic.create", fp, {"title": "a"})])
        entry = again["a"]
        assert entry.state == "finished"
        assert entry.task_id == "task-1"
        assert entry.family == "sonic"
        assert entry.result == {"task_id": "task-1", "clips": []}
        assert entry.files == ["/x/a.wav"]
        assert entry.attempts == 1


async def test_starting_is_committed_before_the_call_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    async with Journal(path) as journal:
        await journal.plan([("k", "sonic.create", "fp", {})])
        await journal.mark_starting("k")
        # Read it back from the file with an independent connection: the row is on disk even
        # while this journal is open (it holds an exclusive lock, so read after closing).
    assert _read_states(path) == {"k": "starting"}


async def test_unknown_key_is_an_error_and_neighbours_still_commit(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.db") as journal:
        await journal.plan([("a", "op.x", "fp", {}), ("b", "op.x", "fp", {})])
        results = await asyncio.gather(
            journal.mark_failed("a", "boom"),
            journal.mark_failed("missing", "boom"),
            journal.mark_unknown("b", "lost"),
            return_exceptions=True,
        )
        assert results[0] is None
        assert results[2] is None
        assert isinstance(results[1], KeyError)
        entries = await journal.entries()
    assert entries["a"].state == "failed"
    assert entries["a"].error == "boom"
    assert entries["b"].state == "unknown"


async def test_replan_only_for_unpaid_states(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.db") as journal:
        await journal.plan([("f", "op.x", "old", {}), ("s", "op.x", "old", {})])
        await journal.mark_failed("f", "x")
        await journal.mark_starting("s")
        await journal.mark_started("s", "t", "sonic")
        await journal.replan("f", "op.x", "new", {"a": 1})
        await journal.replan("s", "op.x", "new", {"a": 1})
        entries = await journal.entries()
    assert (entries["f"].fingerprint, entries["f"].state) == ("new", "planned")
    assert (entries["s"].fingerprint, entries["s"].state) == ("old", "started")


async def test_second_batch_on_the_same_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "JOURNAL_BUSY_TIMEOUT", 0.1)
    path = tmp_path / "j.db"
    async with Journal(path) as first:
        await first.plan([("a", "op.x", "fp", {})])
        second = Journal(path)
        with pytest.raises(JournalInUseError, match="in use") as caught:
            await second.open()
        assert caught.value.path == str(path)
        await second.aclose()
        # Refused, not broken: it opens once the first one let go.
    async with Journal(path) as third:
        assert (await third.get("a")) is not None


async def test_handles_opening_at_once_leave_exactly_one_winner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Openers that collide must not wait on each other until all are refused: one gets the
    # journal, every other one is refused.
    monkeypatch.setattr(C, "JOURNAL_BUSY_TIMEOUT", 0.2)
    for round_ in range(10):
        path = tmp_path / f"j{round_}.db"
        if round_ % 2:  # an existing journal, and a new file
            async with Journal(path):
                pass
        handles = [Journal(path) for _ in range(4)]
        results = await asyncio.gather(*(h.open() for h in handles), return_exceptions=True)
        for handle in handles:
            await handle.aclose()
        assert sum(r is None for r in results) == 1, results
        assert all(r is None or isinstance(r, JournalInUseError) for r in results), results


async def test_one_object_is_claimed_by_one_run_at_a_time(tmp_path: Path, fake_clock: Any) -> None:
    journal = Journal(tmp_path / "j.db")
    async with journal.claim():
        began = fake_clock.now
        with pytest.raises(JournalInUseError, match="in use"):
            async with journal.claim():
                pytest.fail("a second claim while the first holds it")
        # It waited the documented time for the holder to let go, then gave up.
        assert fake_clock.now - began >= C.JOURNAL_BUSY_TIMEOUT

    async def hold_briefly() -> None:
        async with journal.claim():
            await asyncio.sleep(0)

    # A holder that lets go within the wait: the next claim gets it.
    holder = asyncio.ensure_future(hold_briefly())
    await asyncio.sleep(0)
    async with journal.claim():
        assert holder.done()
    # And a claim given back on error is free again.
    with pytest.raises(RuntimeError):
        async with journal.claim():
            raise RuntimeError("boom")
    async with journal.claim():
        pass


async def test_lost_keeps_its_task_id_until_the_job_is_sent_again(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.db") as journal:
        await journal.plan([("k", "op.x", "fp", {})])
        await journal.mark_starting("k")
        await journal.mark_started("k", "task-1", "sonic")
        await journal.mark_lost("k", "TaskNotFoundError: task not found.")
        lost = await journal.get("k")
        # Not a failure: a new request for the key is refused, like for any paid job.
        await journal.replan("k", "op.x", "other", {"x": 1})
        after_replan = await journal.get("k")
        await journal.mark_starting("k")  # the user asked to send it again
        resent = await journal.get("k")
    assert lost is not None
    assert (lost.state, lost.task_id, lost.family) == ("lost", "task-1", "sonic")
    assert lost.error == "TaskNotFoundError: task not found."
    assert after_replan == lost
    assert resent is not None
    assert (resent.state, resent.task_id, resent.attempts) == ("starting", None, 2)


async def test_not_a_journal_file(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(b"this is not sqlite" * 100)
    journal = Journal(path)
    with pytest.raises(JournalError, match="cannot be used"):
        await journal.open()
    await journal.aclose()


async def test_many_concurrent_writes_group_commit_off_the_loop(tmp_path: Path) -> None:
    keys = [f"job-{i}" for i in range(300)]
    # blockbuster raises if any sqlite3 or file call runs on the event loop thread.
    with blockbuster_ctx():
        async with Journal(tmp_path / "j.db") as journal:
            await journal.plan((k, "sonic.create", "fp", {"i": i}) for i, k in enumerate(keys))
            await asyncio.gather(*(journal.mark_starting(k) for k in keys))
            await asyncio.gather(*(journal.mark_started(k, f"t-{k}", "sonic") for k in keys))
            entries = await journal.entries()
    assert len(entries) == 300
    assert {e.state for e in entries.values()} == {"started"}
    assert entries["job-7"].task_id == "t-job-7"


def test_fingerprint_is_order_independent_and_sensitive() -> None:
    a = fingerprint("sonic.create", {"x": 1, "y": [1, 2]})
    assert a == fingerprint("sonic.create", {"y": [1, 2], "x": 1})
    assert a != fingerprint("sonic.create", {"x": 2, "y": [1, 2]})
    assert a != fingerprint("sonic.extend", {"x": 1, "y": [1, 2]})


async def test_use_before_open_is_a_clear_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    with pytest.raises(JournalError, match="not open"):
        await journal.get("x")


async def test_new_file_is_owner_only_and_holds_no_webhook_secret(tmp_path: Path) -> None:
    secret = "whsec-journal-canary-7c1d"
    params = {"title": "a", "webhook_url": "https://example.com/hook", "webhook_secret": secret}
    path = tmp_path / "j.db"
    async with Journal(path) as journal:
        await journal.plan([("a", "sonic.create", fingerprint("sonic.create", params), params)])
        await journal.replan("a", "sonic.create", "fp2", params)
        # Every file SQLite made for it (the WAL too, while open) is for the owner only.
        modes = _modes(tmp_path, "j.db*")
        assert len(modes) >= 2
        assert set(modes.values()) == {0o600}, modes
        while_open = _contents(tmp_path, "j.db*")
    on_disk = while_open + _contents(tmp_path, "j.db*")
    assert secret.encode() not in on_disk
    assert b"<redacted>" in on_disk  # the params are there, the secret replaced


async def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    path.touch()
    path.chmod(0o640)
    async with Journal(path) as journal:
        await journal.plan([("a", "op.x", "fp", {})])
    assert path.stat().st_mode & 0o777 == 0o640


async def test_a_missing_folder_is_a_journal_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "no" / "such" / "j.db")
    with pytest.raises(JournalError, match="cannot be used"):
        await journal.open()
    await journal.aclose()


def test_fingerprint_leaves_out_the_webhook_secret() -> None:
    # The digest is stored: it must not confirm a guessed secret. A secret present still counts.
    base = {"title": "a", "webhook_url": "https://example.com/hook"}
    one = fingerprint("sonic.create", {**base, "webhook_secret": "s1"})
    assert one == fingerprint("sonic.create", {**base, "webhook_secret": "s2"})
    assert one != fingerprint("sonic.create", base)
