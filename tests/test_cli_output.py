"""The CLI's output layer in-process: terminal vs pipe, rich missing, progress, log redaction."""

from __future__ import annotations

import argparse
import io
import logging

import pydantic
import pytest

from aimusic_async.cli import _console, _options
from aimusic_async.cli._console import RICH_HINT, UI
from aimusic_async.cli._options import format_validation_error, parse_params, setup_logging
from aimusic_async.cli._progress import ProgressDisplay, fmt_duration

SECRET = "sk-canary-output-93b1"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Source:
    """A stand-in for BatchProgress."""

    def __init__(self) -> None:
        self.total = 4
        self.started = 0
        self.running = 0
        self.finished = 0
        self.failed = 0
        self.unknown = 0
        self.not_sent = 0
        self.resumed = 0
        self.elapsed = 0.0

    @property
    def done(self) -> int:
        return self.finished + self.failed + self.unknown + self.not_sent


def test_plain_table_on_a_pipe_is_aligned_and_scrubbed() -> None:
    out, err = io.StringIO(), io.StringIO()
    ui = UI(out=out, err=err, secrets=[SECRET])
    ui.table(["a", "long header"], [["x" * 5, f"key={SECRET}"], ["y", None]])
    lines = out.getvalue().splitlines()
    assert lines[0] == "a      long header"
    assert lines[1] == "xxxxx  key=***"
    assert lines[2] == "y"
    assert SECRET not in out.getvalue()
    assert err.getvalue() == ""  # no rich hint off a terminal


def test_terminal_without_rich_gets_plain_output_and_one_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_console, "have_rich", lambda: False)
    out, err = FakeTerminal(), io.StringIO()
    ui = UI(out=out, err=err)
    assert not ui.live
    ui.table(["k"], [["v1"]])
    ui.table(["k"], [["v2"]])
    assert out.getvalue().splitlines() == ["k", "v1", "k", "v2"]
    assert err.getvalue().splitlines() == [RICH_HINT]


def test_terminal_with_rich_draws_a_table_with_literal_brackets() -> None:
    out = FakeTerminal()
    ui = UI(out=out, err=io.StringIO())
    assert ui.live
    ui.table(["file"], [["Song [abc-123].wav"]])
    # Cell text is not rich markup: the clip id in brackets survives.
    assert "Song [abc-123].wav" in out.getvalue()


def test_json_mode_prints_only_json() -> None:
    out, err = FakeTerminal(), io.StringIO()
    ui = UI(json_mode=True, out=out, err=err, secrets=[SECRET])
    ui.say("hello")
    ui.table(["a"], [["b"]])
    ui.emit_json({"key": SECRET, "n": 1})
    assert out.getvalue() == '{"key": "***", "n": 1}\n'
    assert not ui.live


async def test_progress_plain_lines_only_when_something_moved() -> None:
    out = io.StringIO()
    ui = UI(out=out, err=io.StringIO())
    source = Source()
    display = ProgressDisplay(ui, source)
    async with display:
        display.refresh()  # the first line
        display.refresh()  # nothing moved: no second line
        source.started = source.running = 4
        display.refresh()  # moved, but within PLAIN_INTERVAL of the last line: held back
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "0/4 jobs | started 0 | running 0 | done 0 | failed 0 | unknown 0 | -/min | ETA -"
    )
    # The closing line always shows the final state.
    assert lines[-1].startswith("0/4 jobs | started 4 | running 4 |")
    assert len(lines) == 2


def test_progress_rate_only_from_jobs_that_finished_over_a_real_stretch_of_time() -> None:
    source = Source()
    display = ProgressDisplay(UI(out=io.StringIO(), err=io.StringIO()), source)
    # Jobs that failed at once: no rate (this once read 14807.2/min).
    source.total, source.failed, source.elapsed = 50, 50, 0.2
    assert display.speed() == ("-/min", "-")
    # Successes, but after a fraction of a second: still no figure.
    source.failed, source.finished = 0, 3
    assert display.speed() == ("-/min", "-")
    source.elapsed = 60.0
    assert display.speed() == ("3.0/min", "15:40")  # 47 left at 3 a minute
    # Jobs taken from the journal are not work done by this run.
    source.resumed = 3
    assert display.speed() == ("-/min", "-")


async def test_progress_live_on_a_terminal() -> None:
    out = FakeTerminal()
    ui = UI(out=out, err=io.StringIO())
    source = Source()
    async with ProgressDisplay(ui, source) as display:
        source.started, source.finished, source.failed = 4, 3, 1
        display.note("failed: job-4: TaskFailedError: boom [x]")
        display.refresh()
    text = out.getvalue()
    assert "4/4 jobs" in text
    assert "started 4 | running 0 | done 3 | failed 1 | unknown 0" in text
    assert "failed: job-4: TaskFailedError: boom [x]" in text


def test_fmt_duration() -> None:
    assert fmt_duration(0) == "0:00"
    assert fmt_duration(61.4) == "1:01"
    assert fmt_duration(3725) == "1:02:05"


def test_parse_params_pairs_and_json() -> None:
    params = parse_params(
        ["custom_mode=false", "style_weight=0.5", "title=Hello world", 'tags="2024"', "x=null"],
        '{"mv": "sonic-v5", "title": "overridden"}',
    )
    assert params == {
        "mv": "sonic-v5",
        "custom_mode": False,
        "style_weight": 0.5,
        "title": "Hello world",
        "tags": "2024",
        "x": None,
    }
    with pytest.raises(_options.UsageError, match="NAME=VALUE"):
        parse_params(["novalue"], None)
    with pytest.raises(_options.UsageError, match="JSON object"):
        parse_params([], "[1, 2]")


def test_validation_error_names_the_field_without_the_union_tag() -> None:
    class Body(pydantic.BaseModel):
        title: str = pydantic.Field(max_length=3)

    with pytest.raises(pydantic.ValidationError) as caught:
        Body(title="toolong")
    assert format_validation_error(caught.value) == (
        "params.title: String should have at most 3 characters"
    )
    adapter = pydantic.TypeAdapter(dict[str, Body])
    with pytest.raises(pydantic.ValidationError) as nested:
        adapter.validate_python({"create_music": {"title": "toolong"}})
    # A leading element that is not one of the given parameter names is a tag: dropped.
    assert format_validation_error(nested.value, known=["title"]).startswith("params.title:")


def test_verbose_logging_redacts_the_key() -> None:
    args = argparse.Namespace(verbose=True, api_key=SECRET)
    logger = logging.getLogger("aimusic_async")
    before = list(logger.handlers)
    stream = io.StringIO()
    try:
        setup_logging(args)
        (handler,) = [h for h in logger.handlers if h not in before]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logger.debug("sending Authorization: Bearer %s", SECRET)
    finally:
        for h in list(logger.handlers):
            if h not in before:
                logger.removeHandler(h)
        logger.setLevel(logging.NOTSET)
    assert "Bearer ***" in stream.getvalue()
    assert SECRET not in stream.getvalue()


def test_outcome_row_for_an_error_without_a_message() -> None:
    from aimusic_async.batch import Job, JobOutcome
    from aimusic_async.cli.batch_cmd import outcome_row

    job = Job(key="k", operation="sonic.create")
    # A bare TimeoutError() has an empty message: the row still says what happened.
    assert outcome_row(JobOutcome(job, "failed", error=TimeoutError()))[5] == "TimeoutError"
    row = outcome_row(JobOutcome(job, "failed", error=ValueError("bad\nsecond line")))
    assert row[5] == "ValueError: bad"


def test_validation_error_of_a_list_item_keeps_the_field() -> None:
    from aimusic_async.models.nuro import NuroBgmRequest

    with pytest.raises(pydantic.ValidationError) as caught:
        NuroBgmRequest(description="calm", genre=["nope"])  # type: ignore[list-item]
    # "genre.0" once read as a union tag plus a field (the dot in the old union titles).
    assert format_validation_error(caught.value).startswith("params.genre.0: Input should be")
