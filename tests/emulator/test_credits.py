"""Credits: charged at acceptance by the price table, refunded per failed clip, 403 when short."""

from __future__ import annotations

import asyncio

from aimusic_async._pricing import price

from .conftest import FAST, Api, MakeApi, clip_of

CREDITS_MESSAGE = (
    "The remaining credits are not enough. You can buy more one-time credit packs or subscribe."
)


async def credits(api: Api, key: str | None = None) -> tuple[int, int]:
    reply = await api.get("/api/v1/get-credits", key=key)
    assert reply.status == 200
    assert set(reply.body) == {"credits", "extra_credits"}
    return reply.body["credits"], reply.body["extra_credits"]


async def test_charge_per_operation(api: Api) -> None:
    start = await credits(api)
    task_id = await api.create()
    assert await credits(api) == (start[0] - price("sonic", "create_music"), 0)
    await api.wait(task_id)
    clip_id = api.emu.tasks[task_id].clips[0].clip_id
    await api.post("/api/v1/sonic/stems/full", {"clip_id": clip_id})
    await api.post("/api/v1/sonic/bpm", {"clip_id": clip_id})
    spent = price("sonic", "create_music") + price("sonic", "stems_full") + price("sonic", "bpm")
    assert await credits(api) == (start[0] - spent, 0)
    assert api.emu.stats.credits_charged == spent
    # polling is free
    await api.get(f"/api/v1/sonic/task/{task_id}")
    assert api.emu.stats.credits_charged == spent


async def test_extra_credits_are_spent_first(api: Api) -> None:
    api.emu.set_balance(None, 100, extra_credits=10)
    await api.create()
    assert await credits(api) == (95, 0)


async def test_403_when_short_charges_nothing(api: Api) -> None:
    api.emu.set_balance(None, 14)
    reply = await api.post(
        "/api/v1/sonic/create",
        {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x"},
    )
    assert (reply.status, reply.body) == (403, {"code": 403, "message": CREDITS_MESSAGE})
    assert await credits(api) == (14, 0)
    assert not api.emu.tasks
    assert api.emu.stats.creates == 0
    # sync utilities are checked the same way
    api.emu.set_balance(None, 1000)
    clip = await clip_of(api)
    api.emu.set_balance(None, 0)
    reply = await api.post("/api/v1/sonic/wav", {"clip_id": clip["clip_id"]})
    assert (reply.status, reply.body["message"]) == (403, CREDITS_MESSAGE)


async def test_all_clips_failed_refunds_everything(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(clip_failure_rate=1.0))
    before = await credits(api)
    task_id = await api.create()
    assert await credits(api) == (before[0] - 15, 0)
    final = await api.wait(task_id)
    assert final.body["message"] != "success"
    for clip in final.body["data"]:
        assert clip["state"] == "failed"
        assert clip["error_message"]
        assert clip["audio_url"] is None
    assert await credits(api) == before
    assert api.emu.stats.credits_refunded == 15


async def test_one_failed_clip_refunds_its_share(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(clip_failure_rate=0.5, seed=3))
    before = (await credits(api))[0]
    ids = [await api.create() for _ in range(12)]
    finals = [await api.wait(t) for t in ids]
    failed = [sum(c["state"] == "failed" for c in f.body["data"]) for f in finals]
    assert 1 in failed, "seed gives no partial failure; pick another"
    # rule: each failed clip refunds price // clips; all failed refunds the whole price
    expected = sum({0: 0, 1: 7, 2: 15}[n] for n in failed)
    assert (await credits(api))[0] == before - 15 * 12 + expected
    assert api.emu.stats.credits_refunded == expected


async def test_refund_lands_when_the_clip_fails_not_before(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(clip_failure_rate=1.0, generation_time=(0.4, 0.4)))
    api.emu.set_balance(None, 15)
    await api.create()
    assert await credits(api) == (0, 0)
    await asyncio.sleep(0.5)
    assert await credits(api) == (15, 0)


async def test_aligned_lyrics_first_call_paid_then_free(api: Api) -> None:
    clip = await clip_of(api)
    charged = api.emu.stats.credits_charged
    for _ in range(3):
        reply = await api.post("/api/v1/sonic/aligned-lyrics", {"clip_id": clip["clip_id"]})
        assert reply.status == 200
    assert api.emu.stats.credits_charged == charged + price("sonic", "aligned_lyrics")


async def test_balances_are_per_key(make_api: MakeApi) -> None:
    api = await make_api(FAST.replace(api_keys=("a", "b"), initial_credits=50))
    await api.create(key="a")
    assert await credits(api, "a") == (35, 0)
    assert await credits(api, "b") == (50, 0)
    assert api.emu.balance("a").total == 35
