"""Sonic request/result models: documented wire shapes, and every rule names its field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from aimusic_async.models import sonic as s
from aimusic_async.models._base import RequestModel

CREATE = TypeAdapter(s.SonicCreateRequest)
CLIP = "8ce9770b-ec3b-4029-a3e3-4b8db20da7d1"
SECRET = "canary-webhook-secret-3c1f"


def wire(body: dict[str, Any]) -> dict[str, Any]:
    return CREATE.validate_python(body).to_wire()


def field_errors(exc: pytest.ExceptionInfo[ValidationError], field: str) -> list[dict[str, Any]]:
    """The errors whose loc names ``field`` (the union prefixes the tag, lists add an index)."""
    return [e for e in exc.value.errors() if field in e["loc"]]


def assert_rejects(model: type[BaseModel], body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(body)
    assert field_errors(exc, field), exc.value.errors()
    assert field in str(exc.value)


# -- documented bodies serialise to the documented JSON -----------------------------------------
def test_custom_lyrics_example() -> None:
    doc = {
        "custom_mode": True,
        "mv": "sonic-v4-5",
        "title": "Starry Night",
        "tags": "pop, dreamy",
        "prompt": "[Verse]\nStars they shine above me\nMoonlight softly glows\n\n"
        "[Chorus]\nStarry night, starry night\nLet your light ignite",
    }
    body = s.CreateMusicRequest(**doc).to_wire()
    # task_type and use_suno_cdn are always sent explicitly.
    assert body == {**doc, "task_type": "create_music", "use_suno_cdn": False}


def test_description_mode_example() -> None:
    doc = {
        "custom_mode": False,
        "mv": "sonic-v4-5",
        "gpt_description_prompt": "An upbeat summer pop song about road trips and freedom",
    }
    assert wire({"task_type": "create_music", **doc}) == {
        **doc,
        "task_type": "create_music",
        "use_suno_cdn": False,
    }


def test_auto_lyrics_example() -> None:
    doc = {
        "custom_mode": True,
        "auto_lyrics": True,
        "mv": "sonic-v4-5",
        "prompt": "pop song",
        "title": "Midnight Dreams",
        "tags": "r&b, smooth, romantic",
    }
    assert s.CreateMusicRequest(**doc).to_wire() == {
        **doc,
        "task_type": "create_music",
        "use_suno_cdn": False,
    }


def test_extend_and_cover_upload_examples() -> None:
    doc = {
        "task_type": "extend_upload_music",
        "continue_clip_id": "your-uploaded-clip-id",
        "continue_at": 0.1,
        "custom_mode": True,
        "mv": "sonic-v4-5",
        "prompt": "[Verse 2]\nContinuing the song...\n\n[Chorus]\nNew chorus lyrics",
        "tags": "pop, upbeat",
    }
    assert wire(doc) == {**doc, "use_suno_cdn": False}
    cover = {k: v for k, v in doc.items() if k != "continue_at"}
    cover.update(task_type="cover_upload_music", audio_weight=0.6)
    assert wire(cover) == {**cover, "use_suno_cdn": False}
    assert isinstance(CREATE.validate_python(cover), s.CoverUploadMusicRequest)


def test_persona_concat_remaster_add_vocals_examples() -> None:
    persona = {
        "task_type": "persona_music",
        "custom_mode": True,
        "prompt": "[Verse]\n...",
        "title": "Starts",
        "tags": "pop",
        "persona_id": "c08806c1-34fa-4290-a78d-0c623eb1dd1c",
        "mv": "sonic-v3-5",
    }
    assert wire(persona) == {**persona, "use_suno_cdn": False}
    concat = {"task_type": "concat_music", "continue_clip_id": "a533515b-56c9-4eb2"}
    assert wire(concat) == {**concat, "use_suno_cdn": False}
    remaster = {
        "task_type": "remaster",
        "continue_clip_id": CLIP,
        "mv": "sonic-v5",
        "variation_category": "subtle",
        "use_suno_cdn": False,
    }
    assert wire(remaster) == remaster
    add_vocals = {
        "task_type": "add_vocals",
        "continue_clip_id": CLIP,
        "mv": "sonic-v5",
        "custom_mode": True,
        "prompt": "[Verse]\n...",
        "tags": "pop",
        "style_weight": 0.5,
        "weirdness_constraint": 0.3,
        "audio_weight": 0.7,
        "overpainting_start_s": 0,
        "overpainting_end_s": 30,
        "vocal_gender": "f",
        "use_suno_cdn": False,
    }
    assert wire(add_vocals) == add_vocals


def test_other_route_examples() -> None:
    upload_cover = {
        "url": "https://example.com/source.mp3",
        "custom_mode": True,
        "mv": "sonic-v5",
        "prompt": "[Verse]\n...",
        "title": "My Cover",
        "tags": "jazz, smooth",
        "negative_tags": "metal",
        "make_instrumental": False,
        "duration": 120,
        "style_weight": 0.6,
        "weirdness_constraint": 0.3,
        "audio_weight": 0.6,
        "vocal_gender": "f",
        "webhook_url": "https://example.com/hook",
        "webhook_secret": SECRET,
    }
    # No task_type / use_suno_cdn on the dedicated routes: they are not /sonic/create.
    assert s.UploadCoverRequest(**upload_cover).to_wire() == upload_cover
    mashup = {
        "mashup_clip_ids": ["clip-a", "clip-b"],
        "custom_mode": False,
        "mv": "sonic-v5",
        "gpt_description_prompt": "...",
        "title": "t",
        "tags": "x",
        "negative_tags": "y",
        "make_instrumental": False,
        "style_weight": 0.5,
        "weirdness_constraint": 0.3,
        "audio_weight": 0.5,
        "vocal_gender": "m",
    }
    assert s.MashupRequest(**mashup).to_wire() == mashup
    replace = {
        "clip_id": "YOUR_CLIP_ID",
        "mv": "sonic-v5",
        "infill_start_s": 30,
        "infill_end_s": 45,
        "prompt": "soaring chorus with layered harmonies",
    }
    assert s.ReplaceSectionRequest(**replace).to_wire() == replace
    persona = {
        "name": "My Custom Voice",
        "clip_id": "your-uploaded-clip-id",
        "describe": "Warm, soulful vocal with smooth tone",
        "styles": "soul, r&b, smooth",
    }
    assert s.CreatePersonaRequest(**persona).to_wire() == persona
    for model in (s.WavRequest, s.BpmRequest, s.MidiRequest, s.AlignedLyricsRequest, s.VoxRequest):
        assert model(clip_id=CLIP).to_wire() == {"clip_id": CLIP}
    for model2 in (s.StemsBasicRequest, s.StemsFullRequest):
        assert model2(clip_id=CLIP).to_wire() == {"clip_id": CLIP}
    assert s.UpsampleTagsRequest(tags="pop, happy").to_wire() == {"tags": "pop, happy"}
    assert s.UploadRequest(url="https://e.com/a.mp3").to_wire() == {"url": "https://e.com/a.mp3"}
    assert s.CreateVoiceRequest(audio_url="https://e.com/v.wav").to_wire() == {
        "audio_url": "https://e.com/v.wav"
    }
    sample = s.SampleRequest(
        sample_clip_id=CLIP,
        chop_sample_start_s=5,
        chop_sample_end_s=15,
        custom_mode=False,
        mv="sonic-v4-5-all",
        gpt_description_prompt="a hummed idea",
    ).to_wire()
    assert sample["sample_clip_id"] == CLIP
    assert sample["chop_sample_end_s"] == 15


def test_use_suno_cdn_can_be_turned_on_but_is_never_omitted() -> None:
    body = wire({"task_type": "concat_music", "continue_clip_id": CLIP, "use_suno_cdn": True})
    assert body["use_suno_cdn"] is True
    with pytest.raises(ValidationError) as exc:
        CREATE.validate_python(
            {"task_type": "concat_music", "continue_clip_id": CLIP, "use_suno_cdn": "false"}
        )
    assert field_errors(exc, "use_suno_cdn")


# -- the webhook secret ------------------------------------------------------------------------
def test_webhook_secret_hidden_everywhere_but_the_wire() -> None:
    req = s.StemsFullRequest(
        clip_id=CLIP, webhook_url="https://hooks.example.com/x", webhook_secret=SECRET
    )
    assert SECRET not in repr(req)
    assert SECRET not in str(req)
    assert SECRET not in req.model_dump_json()
    assert SECRET not in str(req.model_dump())
    assert req.to_wire()["webhook_secret"] == SECRET
    assert req.to_wire()["webhook_url"] == "https://hooks.example.com/x"


def test_webhook_url_must_be_http() -> None:
    assert_rejects(s.StemsBasicRequest, {"clip_id": CLIP, "webhook_url": "ftp://x"}, "webhook_url")


# -- one test per rule -------------------------------------------------------------------------
def _create(**fields: Any) -> dict[str, Any]:
    return {"custom_mode": True, "mv": "sonic-v5", "prompt": "[Verse]\nla", **fields}


def test_custom_mode_needs_prompt_unless_instrumental_or_auto_lyrics() -> None:
    body = _create(prompt=None)
    assert_rejects(s.CreateMusicRequest, body, "prompt")
    assert_rejects(s.CreateMusicRequest, _create(prompt="   "), "prompt")
    s.CreateMusicRequest.model_validate({**body, "make_instrumental": True})
    s.CreateMusicRequest.model_validate({**body, "auto_lyrics": True})


def test_description_mode_needs_description() -> None:
    assert_rejects(
        s.CreateMusicRequest,
        {"custom_mode": False, "mv": "sonic-v5"},
        "gpt_description_prompt",
    )


def test_auto_lyrics_only_in_custom_mode() -> None:
    body = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "x"}
    assert_rejects(s.CreateMusicRequest, {**body, "auto_lyrics": True}, "auto_lyrics")


def test_custom_mode_is_required_and_strict() -> None:
    assert_rejects(s.CreateMusicRequest, {"mv": "sonic-v5", "prompt": "x"}, "custom_mode")
    assert_rejects(s.CreateMusicRequest, _create(custom_mode="true"), "custom_mode")
    assert_rejects(s.CreateMusicRequest, _create(custom_mode=1), "custom_mode")
    assert_rejects(s.CreateMusicRequest, _create(make_instrumental="false"), "make_instrumental")


@pytest.mark.parametrize("field", ["style_weight", "weirdness_constraint", "audio_weight"])
def test_weights_between_zero_and_one(field: str) -> None:
    for ok in (0, 0.5, 1, 1.0):
        s.CreateMusicRequest.model_validate(_create(**{field: ok}))
    for bad in (-0.01, 1.01, "0.5", True):
        assert_rejects(s.CreateMusicRequest, _create(**{field: bad}), field)


def test_vocal_gender_values_and_models() -> None:
    assert_rejects(s.CreateMusicRequest, _create(vocal_gender="x"), "vocal_gender")
    for legacy in ("sonic-v3-5", "sonic-v4", "chirp-v4"):
        assert_rejects(s.CreateMusicRequest, _create(mv=legacy, vocal_gender="f"), "vocal_gender")
    for mv in ("sonic-v4-5", "sonic-v4-5-plus", "sonic-v5", "sonic-v5-5", "sonic-v9-future"):
        s.CreateMusicRequest.model_validate(_create(mv=mv, vocal_gender="m"))


@pytest.mark.parametrize(
    ("mv", "limit"),
    [("sonic-v3-5", 3000), ("sonic-v4", 3000), ("sonic-v4-5", 5000), ("sonic-v5", 5000),
     ("brand-new-model", 5000)],
)  # fmt: skip
def test_prompt_limit_per_model(mv: str, limit: int) -> None:
    s.CreateMusicRequest.model_validate(_create(mv=mv, prompt="a" * limit))
    assert_rejects(s.CreateMusicRequest, _create(mv=mv, prompt="a" * (limit + 1)), "prompt")


@pytest.mark.parametrize(
    ("mv", "limit"),
    [("sonic-v3-5", 200), ("sonic-v4", 200), ("sonic-v4-5", 1000), ("unknown-x", 1000)],
)
def test_tags_limit_per_model(mv: str, limit: int) -> None:
    s.CreateMusicRequest.model_validate(_create(mv=mv, tags="a" * limit))
    assert_rejects(s.CreateMusicRequest, _create(mv=mv, tags="a" * (limit + 1)), "tags")


def test_fixed_text_limits() -> None:
    desc = {"custom_mode": False, "mv": "sonic-v5"}
    s.CreateMusicRequest.model_validate({**desc, "gpt_description_prompt": "a" * 400})
    assert_rejects(
        s.CreateMusicRequest,
        {**desc, "gpt_description_prompt": "a" * 401},
        "gpt_description_prompt",
    )
    s.CreateMusicRequest.model_validate(_create(title="t" * 80))
    assert_rejects(s.CreateMusicRequest, _create(title="t" * 81), "title")


def test_duration_range_and_type() -> None:
    for ok in (10, 360):
        s.CreateMusicRequest.model_validate(_create(duration=ok))
    for bad in (9, 361, 120.5, "120"):
        assert_rejects(s.CreateMusicRequest, _create(duration=bad), "duration")
    # Only the routes documented to take it: remaster does not.
    assert_rejects(
        s.RemasterRequest, {"continue_clip_id": CLIP, "mv": "sonic-v5", "duration": 60}, "duration"
    )


def test_overpainting_end_after_start() -> None:
    base = {"continue_clip_id": CLIP, "mv": "sonic-v5"}
    s.AddInstrumentalRequest.model_validate(
        {**base, "overpainting_start_s": 0, "overpainting_end_s": 0.5}
    )
    for end in (10, 5):
        assert_rejects(
            s.AddInstrumentalRequest,
            {**base, "overpainting_start_s": 10, "overpainting_end_s": end},
            "overpainting_end_s",
        )
    assert_rejects(
        s.AddInstrumentalRequest, {**base, "overpainting_start_s": -1}, "overpainting_start_s"
    )


def test_add_vocals_needs_lyrics() -> None:
    assert_rejects(s.AddVocalsRequest, {"continue_clip_id": CLIP, "mv": "sonic-v5"}, "prompt")


def test_continue_at_not_negative() -> None:
    body = _create(continue_clip_id=CLIP, continue_at=0)
    s.ExtendMusicRequest.model_validate(body)
    assert_rejects(s.ExtendMusicRequest, {**body, "continue_at": -0.1}, "continue_at")
    assert_rejects(s.ExtendMusicRequest, _create(continue_clip_id=CLIP), "continue_at")


def test_mv_any_non_empty_string() -> None:
    for mv in ("sonic-v5-5", "sonic-v6-wild", "chirp-v5", "whatever-comes-next"):
        assert s.CreateMusicRequest.model_validate(_create(mv=mv)).mv == mv
    for bad in ("", "  ", 5, None):
        assert_rejects(s.CreateMusicRequest, _create(mv=bad), "mv")
    assert "sonic-v5" in s.KNOWN_MODELS


def test_unknown_field_is_named() -> None:
    assert_rejects(s.CreateMusicRequest, _create(promt="typo"), "promt")
    # concat takes only the clip id
    assert_rejects(s.ConcatMusicRequest, {"continue_clip_id": CLIP, "mv": "sonic-v5"}, "mv")


def test_persona_music_needs_persona_id() -> None:
    assert_rejects(s.PersonaMusicRequest, _create(), "persona_id")


def test_union_picks_by_task_type_and_names_it() -> None:
    assert isinstance(
        CREATE.validate_python(_create(task_type="cover_music", continue_clip_id=CLIP)),
        s.CoverMusicRequest,
    )
    with pytest.raises(ValidationError) as exc:
        CREATE.validate_python(_create(task_type="sing_music"))
    assert "task_type" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        CREATE.validate_python(_create(task_type="extend_music", continue_at=1))
    assert field_errors(exc, "continue_clip_id")


def test_models_are_frozen() -> None:
    req = s.CreateMusicRequest.model_validate(_create())
    with pytest.raises(ValidationError):
        req.mv = "sonic-v4"  # type: ignore[misc]


def test_sample_one_source_and_window() -> None:
    base = {"custom_mode": False, "mv": "sonic-v5", "gpt_description_prompt": "d"}
    s.SampleRequest.model_validate({**base, "url": "https://e.com/hum.mp3"})
    assert_rejects(s.SampleRequest, base, "sample_clip_id")
    assert_rejects(
        s.SampleRequest,
        {**base, "url": "https://e.com/a.mp3", "sample_clip_id": CLIP},
        "sample_clip_id",
    )
    assert_rejects(
        s.SampleRequest,
        {**base, "sample_clip_id": CLIP, "chop_sample_start_s": 8, "chop_sample_end_s": 3},
        "chop_sample_end_s",
    )


def test_mashup_exactly_two_clips() -> None:
    base = {"custom_mode": False, "mv": "chirp-v5", "gpt_description_prompt": "d"}
    req = s.MashupRequest.model_validate({**base, "mashup_clip_ids": ("a", "b")})
    assert req.to_wire()["mashup_clip_ids"] == ["a", "b"]
    for ids in (["a"], ["a", "b", "c"], [], ["a", ""]):
        assert_rejects(s.MashupRequest, {**base, "mashup_clip_ids": ids}, "mashup_clip_ids")


def test_replace_section_window() -> None:
    base = {"clip_id": CLIP, "infill_start_s": 30, "mv": "chirp-v4"}
    s.ReplaceSectionRequest.model_validate({**base, "infill_end_s": 45})
    assert_rejects(s.ReplaceSectionRequest, {**base, "infill_end_s": 30}, "infill_end_s")
    assert_rejects(
        s.ReplaceSectionRequest, {"clip_id": CLIP, "mv": "m", "infill_end_s": 3}, "infill_start_s"
    )
    assert_rejects(
        s.ReplaceSectionRequest, {"clip_id": CLIP, "infill_start_s": 1, "infill_end_s": 3}, "mv"
    )
    assert_rejects(s.ReplaceSectionRequest, {**base, "infill_end_s": 45, "mv": ""}, "mv")


def test_create_persona_rules() -> None:
    assert_rejects(s.CreatePersonaRequest, {"clip_id": CLIP}, "name")
    assert_rejects(s.CreatePersonaRequest, {"clip_id": CLIP, "name": "n" * 81}, "name")
    s.CreatePersonaRequest.model_validate({"clip_id": CLIP, "name": "n" * 80})
    assert_rejects(
        s.CreatePersonaRequest,
        {"clip_id": CLIP, "name": "n", "vocal_start_s": 5, "vocal_end_s": 1},
        "vocal_end_s",
    )


def test_vox_window() -> None:
    s.VoxRequest(clip_id=CLIP, vocal_start_s=10, vocal_end_s=40)
    assert_rejects(
        s.VoxRequest, {"clip_id": CLIP, "vocal_start_s": 10, "vocal_end_s": 40.5}, "vocal_end_s"
    )
    assert_rejects(s.VoxRequest, {"clip_id": CLIP, "vocal_start_s": 10}, "vocal_end_s")
    assert_rejects(s.VoxRequest, {"clip_id": CLIP, "vocal_end_s": 10}, "vocal_start_s")
    assert_rejects(
        s.VoxRequest, {"clip_id": CLIP, "vocal_start_s": 9, "vocal_end_s": 9}, "vocal_end_s"
    )


def test_upload_urls() -> None:
    assert_rejects(s.UploadRequest, {"url": "file:///etc/passwd"}, "url")
    # The sync mode has no callback: a callback_url would switch the server to async mode.
    assert_rejects(
        s.UploadRequest, {"url": "https://a/b", "callback_url": "https://me/cb"}, "callback_url"
    )
    assert_rejects(
        s.AsyncUploadRequest, {"url": "https://a/b", "callback_url": "nope"}, "callback_url"
    )
    body = s.AsyncUploadRequest(url="https://a/b.mp3", callback_url="https://me/cb").to_wire()
    assert body == {"url": "https://a/b.mp3", "callback_url": "https://me/cb"}
    assert s.AsyncUploadRequest(url="https://a/b.mp3").to_wire() == {"url": "https://a/b.mp3"}


# -- sweep: every model, one bad field each, the error names it ---------------------------------
SWEEP: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (s.CreateMusicRequest, _create(title=3), "title"),
    (s.ExtendMusicRequest, _create(continue_clip_id="", continue_at=1), "continue_clip_id"),
    (s.CoverMusicRequest, _create(continue_clip_id=CLIP, audio_weight=2), "audio_weight"),
    (s.ConcatMusicRequest, {}, "continue_clip_id"),
    (s.PersonaMusicRequest, _create(persona_id=" "), "persona_id"),
    (s.ExtendUploadMusicRequest, _create(continue_clip_id=CLIP, continue_at="0.1"), "continue_at"),
    (s.CoverUploadMusicRequest, _create(continue_clip_id=CLIP, duration=5), "duration"),
    (s.RemasterRequest, {"continue_clip_id": CLIP, "mv": "sonic-v5", "variation_category": "x"},
     "variation_category"),
    (s.AddVocalsRequest, {"continue_clip_id": CLIP, "mv": "sonic-v4", "prompt": "p",
                          "vocal_gender": "f"}, "vocal_gender"),
    (s.AddInstrumentalRequest, {"mv": "sonic-v5"}, "continue_clip_id"),
    (s.UploadRequest, {}, "url"),
    (s.AsyncUploadRequest, {"url": "https://a/b", "callback_url": "ftp://x"}, "callback_url"),
    (s.UploadExtendRequest, _create(url="https://a/b", continue_at=-1), "continue_at"),
    (s.UploadExtendRequest, _create(url="https://a/b", auto_concat="yes"), "auto_concat"),
    (s.UploadCoverRequest, _create(url="x"), "url"),
    (s.SampleRequest, _create(url="https://a", chop_sample_start_s=-2), "chop_sample_start_s"),
    (s.MashupRequest, _create(mashup_clip_ids="ab"), "mashup_clip_ids"),
    (s.ReplaceSectionRequest, {"clip_id": CLIP, "infill_start_s": 1, "infill_end_s": 2,
                               "style_weight": 3}, "style_weight"),
    (s.ReplaceSectionRequest, {"infill_start_s": 1, "infill_end_s": 2}, "clip_id"),
    (s.StemsBasicRequest, {"clip_id": 1}, "clip_id"),
    (s.StemsFullRequest, {"clip_id": ""}, "clip_id"),
    (s.CreateVoiceRequest, {"audio_url": "not a url"}, "audio_url"),
    (s.CreatePersonaRequest, {"name": "n", "clip_id": CLIP, "vox_audio_id": ""}, "vox_audio_id"),
    (s.BpmRequest, {}, "clip_id"),
    (s.VoxRequest, {"clip_id": CLIP, "vocal_start_s": -1, "vocal_end_s": 2}, "vocal_start_s"),
    (s.WavRequest, {"clip_id": None}, "clip_id"),
    (s.MidiRequest, {"clip": CLIP}, "clip"),
    (s.AlignedLyricsRequest, {"clip_id": ""}, "clip_id"),
    (s.UpsampleTagsRequest, {"tags": ""}, "tags"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "body", "field"), SWEEP, ids=lambda v: getattr(v, "__name__", None)
)
def test_sweep_errors_name_the_field(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    assert_rejects(model, body, field)


def test_sweep_covers_every_request_model() -> None:
    models = {m for m, _, _ in SWEEP}
    request_models = {
        obj
        for name in s.__all__
        if isinstance(obj := getattr(s, name), type)
        and issubclass(obj, RequestModel)
        and obj is not s.StartRequest
    }
    assert request_models - models == set()


@pytest.mark.parametrize(
    "make",
    [
        lambda: s.StemsBasicRequest.model_validate(
            {"clip_id": "", "webhook_secret": SECRET, "webhook_url": "https://h/x"}
        ),
        # pydantic prints the whole input dict after a missing field or a model-level rule,
        # cut to its first and last characters: a secret at either end showed in part.
        lambda: s.StemsBasicRequest.model_validate({"webhook_secret": SECRET}),
        lambda: s.build_create_request(
            {"task_type": "extend_music", "mv": "sonic-v5", "custom_mode": False,
             "gpt_description_prompt": "x", "continue_clip_id": CLIP, "webhook_secret": SECRET}
        ),
        lambda: s.SampleRequest.model_validate(
            {"mv": "sonic-v5", "custom_mode": False, "gpt_description_prompt": "x",
             "webhook_secret": SECRET}
        ),
    ],
)  # fmt: skip
def test_errors_never_echo_the_secret(make: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        make()
    assert SECRET[:12] not in str(exc.value)
    assert SECRET[-12:] not in str(exc.value)


# -- results ----------------------------------------------------------------------------------
def test_wav_result_documented_shape() -> None:
    r = s.WavResult.model_validate(
        {"message": "success", "data": {"wav_url": f"https://cdn1.suno.ai/{CLIP}.wav"}}
    )
    assert r.wav_url.endswith(".wav")
    assert r.message == "success"
    with pytest.raises(ValidationError):
        s.WavResult.model_validate({"code": 200, "data": {}})


def test_midi_result_documented_shape_and_not_ready() -> None:
    r = s.MidiResult.model_validate(
        {
            "code": 200,
            "data": {
                "midi_url": "https://cdn.example/m.mid",
                "instruments": [
                    {
                        "name": "Synth Voice",
                        "notes": [
                            {"end": 2.16, "pitch": 64, "start": 1.34, "velocity": 0.496},
                        ],
                    }
                ],
            },
        }
    )
    assert r.ready
    assert r.instruments[0].notes[0].pitch == 64
    assert r.instruments[0].name == "Synth Voice"
    pending = s.MidiResult.model_validate({"code": 200, "data": {"instruments": None}})
    assert not pending.ready
    assert pending.instruments == []


def test_bpm_upsample_aligned_persona_results() -> None:
    bpm = s.BpmResult.model_validate(
        {"code": 200, "data": {"avg_bpm": 120.5, "max_bpm": 128, "min_bpm": 110}}
    )
    assert (bpm.avg_bpm, bpm.max_bpm, bpm.min_bpm) == (120.5, 128, 110)
    up = s.UpsampleTagsResult.model_validate({"data": {"upsampled_tags": "bright pop, claps"}})
    assert up.upsampled_tags == "bright pop, claps"
    al = s.AlignedLyricsResult.model_validate(
        {
            "code": 200,
            "message": "success",
            "data": {
                "alignment": [
                    {"word": "Stars", "start_s": 1.0, "end_s": 1.4, "p_align": 0.9, "success": True}
                ]
            },
        }
    )
    assert al.alignment[0].word == "Stars"
    assert al.alignment[0].end_s == 1.4
    # persona answers top-level
    assert s.PersonaResult.model_validate({"code": 200, "persona_id": "p-1"}).persona_id == "p-1"
    assert s.PersonaResult.model_validate({"data": {"persona_id": "p-2"}}).persona_id == "p-2"


def test_upload_result_is_the_sync_modes_clip_id() -> None:
    sync = s.UploadResult.model_validate({"code": 200, "message": "success", "clip_id": "abc"})
    assert sync.clip_id == "abc"
    # A task id alone is the async mode's answer, which upload_async reads as a Task instead.
    for answer in ({"message": "success", "task_id": "t-1"}, {"code": 200, "clip_id": ""}):
        with pytest.raises(ValidationError):
            s.UploadResult.model_validate(answer)


def test_vox_result_tolerant_and_unknown_fields_kept() -> None:
    vox = s.VoxResult.model_validate(
        {"code": 200, "data": {"id": "vox-1", "vocal_url": "https://c/v.mp3", "new_thing": 1}}
    )
    assert vox.vox_audio_id == "vox-1"
    assert vox.audio_url == "https://c/v.mp3"
    assert vox.model_extra is not None
    assert vox.model_extra["new_thing"] == 1


def test_build_create_request_defaults_and_names_task_type() -> None:
    req = s.build_create_request({**_create(), "title": None})
    assert isinstance(req, s.CreateMusicRequest)
    assert "title" not in req.to_wire()
    with pytest.raises(ValidationError) as exc:
        s.build_create_request(_create(task_type="sing_music"))
    assert field_errors(exc, "task_type")
    with pytest.raises(ValidationError) as exc:
        s.build_create_request({"task_type": "remaster", "mv": "sonic-v5"})
    assert field_errors(exc, "continue_clip_id")
