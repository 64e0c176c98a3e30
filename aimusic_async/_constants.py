"""Every default of the SDK in one place, each with the reason for its value.

(Tuning parameters of the two adaptive algorithms stay beside their code, where their meaning is
explained: the start-rate limiter in ``_ratelimit.py`` and the duration estimate in ``tasks.py``.)
"""

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
# A 429 proves the server took nothing, so even a start request may wait and retry; a batch
# would rather wait a little than fail jobs, hence at least this many tries on 429 alone.
RATE_LIMIT_MIN_RETRIES = 5

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

# -- sonic utilities -----------------------------------------------------------------------------
# The MIDI page calls the route synchronous yet says it may need asking again until the file is
# ready. Ask up to 8 times, 2 s apart growing by 1.5x to 10 s: about a minute in all, the order of
# a short generation, without hammering a route that may charge per call.
MIDI_MAX_ATTEMPTS = 8
MIDI_RETRY_DELAY = 2.0
MIDI_RETRY_MAX_DELAY = 10.0
MIDI_RETRY_MULTIPLIER = 1.5

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
# Ids of recently accepted events, kept to drop duplicates (the sender retries and may send the
# same event twice). ~100 bytes each, so 10,000 ids are about 1 MB and cover far more callbacks
# than are ever in flight at once.
WEBHOOK_DEDUPE_LIMIT = 10_000
# Bodies above this are verified and parsed in a worker thread: HMAC + JSON of a few hundred KB
# would otherwise hold the event loop for milliseconds. Typical bodies (a few KB) stay inline,
# where a thread hop would cost more than the work.
WEBHOOK_THREAD_THRESHOLD = 64 * 1024
# The API documents webhook_url as at most 1024 characters; a longer one fails every create.
WEBHOOK_URL_MAX = 1024
# Handlers finish in microseconds (verify, parse, set a future), so on shutdown there is little
# to wait for; a short bound keeps client.aclose() quick even if a sender stalls mid-body.
RECEIVER_SHUTDOWN_TIMEOUT = 2.0

# -- batches -------------------------------------------------------------------------------------
# Sixteen jobs in flight keeps a normal account busy without tripping the start rate limit;
# batches that know their limits pass more.
BATCH_CONCURRENCY = 16
# Start requests in flight at once per batch. A crash (SIGKILL) can leave at most this many jobs
# whose start may or may not have reached the server ("unknown"); starts answer in milliseconds
# and the service paces them anyway, so a narrow window costs no throughput.
BATCH_START_WINDOW = 4
# One journal serves one batch run at a time. A run that finds it in use (by another run on the
# same Journal object, another handle, or another process) waits this long, in case that run is
# just closing it, then is refused. Runs last minutes, so a longer wait would only delay the
# error; a shorter one could refuse a run whose predecessor is still releasing the file.
JOURNAL_BUSY_TIMEOUT = 2.0

# -- downloads -----------------------------------------------------------------------------------
# Three retries ride out a CDN blip (a dropped connection, a 503 during a deploy) without
# hiding a dead link for long: with 0.5 s initial backoff the worst case adds about 4 s.
DOWNLOAD_RETRIES = 3
# A whole-file deadline would kill large stems on slow links; a stalled read or connect is what
# signals a dead transfer, so bound those instead.
DOWNLOAD_CONNECT_TIMEOUT = 10.0
DOWNLOAD_READ_TIMEOUT = 60.0
DOWNLOAD_CHUNK = 64 * 1024
# Titles become file names; most file systems allow 255 bytes, leave room for suffixes.
FILENAME_MAX = 120
