"""Every default of the SDK in one place, each with the reason for its value."""

from __future__ import annotations

# -- where and who -------------------------------------------------------------------------------
# The current brand's host; api.musicapi.ai serves the same contract and is a valid base_url.
DEFAULT_BASE_URL = "https://api.aimusicapi.ai"
API_KEY_ENV = "AIMUSIC_API_KEY"
BASE_URL_ENV = "AIMUSIC_BASE_URL"

# -- HTTP ----------------------------------------------------------------------------------------
# Start requests answer in well under a second, but the sync upload fetches the user's file
# first (about 20 s documented, clients see up to 60 s), so one generous per-request ceiling.
DEFAULT_TIMEOUT = 60.0
# Connecting should be quick; a slow connect is a dead host, not a busy one.
DEFAULT_CONNECT_TIMEOUT = 10.0
# One pool per client. 100 keep-alive connections carry thousands of pending tasks, because a
# waiting task holds no connection between polls.
DEFAULT_CONNECTION_LIMIT = 100
# Two retries of a safe request ride out a blip without hiding an outage.
DEFAULT_MAX_RETRIES = 2
# Backoff between retries: 0.5 s, 1 s, 2 s ... capped at 8 s, full jitter on top.
RETRY_INITIAL_DELAY = 0.5
RETRY_MAX_DELAY = 8.0
# A server asking for a longer pause than this is not worth blocking a caller for.
RETRY_AFTER_CAP = 60.0
# Statuses whose repetition can succeed: request timeout, rate limit, server-side failures.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# -- polling -------------------------------------------------------------------------------------
# The docs recommend polling every 15-25 s; generation takes one to a few minutes. Start after a
# few seconds (short jobs such as concat finish fast), back off to the documented interval.
POLL_INITIAL_INTERVAL = 3.0
POLL_MAX_INTERVAL = 20.0
POLL_MULTIPLIER = 1.6
# Generations usually finish in minutes; one test saw several minutes of "not_ready". Ten minutes
# catches the slow tail without hanging a caller forever.
POLL_TIMEOUT = 600.0
# +-15 % jitter keeps a thousand tasks started together from polling in lockstep.
POLL_JITTER = 0.15
# A poll that fails transiently is retried within the deadline, but this many in a row means the
# service is down and the caller should hear about it.
POLL_MAX_CONSECUTIVE_ERRORS = 8

# -- webhooks ------------------------------------------------------------------------------------
# Signed timestamps older or newer than five minutes are replays or broken clocks.
WEBHOOK_TOLERANCE = 300.0
# A callback body is a handful of clip objects; stems can reach a few dozen. 1 MiB is ample.
WEBHOOK_MAX_BODY = 1024 * 1024
# A task waiting for its callback starts polling (slowly, in case the callback was lost) this long
# after the usual finish of its kind (or after its start, before the client has seen one finish).
# Generations take one to three minutes, so a shorter grace would poll tasks whose callback is
# simply not due yet; a lost callback is rare and costs at most this much extra wait.
WEBHOOK_GRACE = 150.0

# -- downloads -----------------------------------------------------------------------------------
DOWNLOAD_CHUNK = 64 * 1024
# Titles become file names; most file systems allow 255 bytes, leave room for suffixes.
FILENAME_MAX = 120
