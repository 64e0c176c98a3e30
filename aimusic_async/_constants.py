"""Every default of the SDK in one place, each with the reason for its value (the tuning of the
two adaptive algorithms stays beside its code, in ``_ratelimit.py`` and ``_tasks.py``)."""

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

# -- hostile servers (transport, limiter, polling): every wait, interval and answer is bounded --
# RETRY_AFTER_CAP above is the most any server-supplied wait can be (429/503 Retry-After, a poll
# hint, the start limiter's pause after a 429); parse_retry_after applies it once, and each user
# of the value clamps again.
# A start request waits at most this long for the client's start-rate limiter. A longer wait (or
# one past the caller's deadline) fails at once with RateLimitError: nothing is sent, so nothing
# is paid. Twice the longest server pause: a start queued behind a few others at the slowest pace
# still goes out; a longer queue means the service is refusing starts and the caller decides.
START_MAX_WAIT = 120.0
# No poll interval is ever shorter than this, whatever the policy or the server says: 10 ms is
# already 100 polls a second; below it the wait loop is a busy loop. Server hints and pauses after
# a failed poll are also never shorter than the policy's own initial_interval (the server may
# slow us down, never speed us up past the cadence the caller chose).
POLL_MIN_INTERVAL = 0.01
# A server hint that would put the next poll past the caller's deadline is cut so that one more
# poll lands this long before it: the wait ends on a fresh answer, and the poll has time to come
# back (API polls answer in well under a second).
POLL_DEADLINE_MARGIN = 1.0
# API answers (JSON) above this size are refused with ResponseValidationError (for a start
# request SubmissionUnknownError: the server took it). The largest known answers (a MIDI note
# list, the word timings of a long song) are a few MB; 16 MiB leaves room for those while a
# hostile answer costs at most this much memory and is never read in full.
API_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A poll answer carries the same clips as a webhook callback (which the receiver refuses above
# WEBHOOK_MAX_BODY): two clips are a few KB, stems a few dozen KB. Polls are the hot path whose
# deadlines must hold, and json.loads holds the interpreter lock for its whole run (even in a
# worker thread; about 15-140 ms per MiB of hostile shapes), so a poll answer is refused above
# 1 MiB: the most one hostile poll can stall the loop is then a fraction of that range.
POLL_MAX_RESPONSE_BYTES = 1024 * 1024
# Answers above this size are decoded and parsed in a worker thread: model validation of a few
# hundred KB would hold the event loop for milliseconds, while in a thread it yields to the loop
# between clips. Typical answers (a few KB) stay inline, where a thread hop costs more than the
# work. (The decode itself holds the interpreter lock; the size limits above bound it.)
API_THREAD_THRESHOLD = 256 * 1024
# A task yields one or two clips (stems a few dozen); a poll answer or callback naming more than
# this many is refused before any clip is validated, so a hostile list cannot hold the loop (or
# a wait past its deadline) for seconds.
MAX_CLIPS_PER_TASK = 1000

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
# Keys of recently accepted events, kept to drop duplicates (the sender retries and may send the
# same event twice; anyone who captured a callback can replay it). Up to three keys per event
# (the sender's id, a digest of the signed body, the task's final state), ~200 bytes each with
# the dict's overhead, so 30,000 keys are about 6 MB and cover 10,000 recent events: far more
# callbacks than are ever in flight at once.
WEBHOOK_DEDUPE_LIMIT = 30_000
# Bodies above this are verified and parsed in a worker thread: HMAC + JSON of a few hundred KB
# would otherwise hold the event loop for milliseconds. Typical bodies (a few KB) stay inline,
# where a thread hop would cost more than the work.
WEBHOOK_THREAD_THRESHOLD = 64 * 1024
# The API documents webhook_url as at most 1024 characters; a longer one fails every create.
WEBHOOK_URL_MAX = 1024
# Handlers finish in microseconds (verify, parse, set a future), so on shutdown there is little
# to wait for; a short bound keeps client.aclose() quick even if a sender stalls mid-body.
RECEIVER_SHUTDOWN_TIMEOUT = 2.0

# -- webhook receiver bounds (hostile senders) ----------------------------------------------------
# A receiver must face the internet, so anyone can connect and send a body before any signature is
# checked. These bound what an unauthenticated sender can hold, and each is a WebhookManager
# setting. Deliveries are callbacks past their request head: the body being read, then verified.
# At most this many at once. The API sends a callback per finished task, each read in a
# millisecond, so even a large batch finishing together stays far below it; beyond it the oldest
# delivery still reading its body is cut off (503) to admit the newcomer, so senders that stall
# cannot keep out the ones that send at once.
WEBHOOK_MAX_DELIVERIES = 64
# Body bytes held across all deliveries still being read or verified: 16 bodies at the 1 MiB cap,
# thousands of the few-KB callbacks the API sends. Past it the oldest reading delivery is cut off
# (503) to make room, and a sender that cannot be given room is refused (503).
WEBHOOK_MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024
# The whole body must arrive within this long after its head (a deadline, not a per-chunk
# timeout, so a trickle of bytes cannot extend it). A callback is a few KB sent at once; even the
# 1 MiB cap takes under 10 s at 1 Mbit/s. Past it: 408 and the connection is closed.
WEBHOOK_READ_TIMEOUT = 10.0
# Embedded receiver only: a connection must deliver a complete request head within this long of
# opening, and may sit idle between requests no longer than this. An honest sender sends its head
# in one packet and its next request (if any) in a burst.
WEBHOOK_HEAD_TIMEOUT = 10.0
# Embedded receiver only: header lines per request (the API sends about a dozen, a proxy or
# tunnel adds a dozen more) and bytes per line (the longest is the request line, whose path is
# at most the 1024-character webhook_url); together they bound one request head to 256 KiB.
WEBHOOK_MAX_HEADERS = 64
WEBHOOK_MAX_HEADER_LINE = 4096
# Embedded receiver only: open connections. Room for every delivery plus as many connections
# waiting for a head; a newcomer beyond it closes the connection that has waited longest for its
# head. With the head limits above, heads can hold at most 128 x 256 KiB = 32 MiB.
WEBHOOK_MAX_CONNECTIONS = 128
# Embedded receiver only: aiohttp stops reading a connection's socket once it holds twice this
# much unread body; a few-KB callback still arrives in one piece.
WEBHOOK_READ_BUFFER = 16 * 1024
# Embedded receiver only: after a 413 the rest of the body is read and dropped for this long, so
# the sender sees the answer rather than a reset connection; dropped bytes take no memory.
WEBHOOK_LINGER = 2.0
# The legacy X-Signature scheme (HMAC of the body, no timestamp) is accepted by default: the
# vendor's older guide documents it, the current one does not say it stopped being sent, and a
# receiver that refused it would turn an account's every callback into a 401. Its captured
# callbacks can be replayed forever; deduplication on the signed body and the task's final state
# is what makes such a replay change nothing.
WEBHOOK_LEGACY_SIGNATURES = True

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
# The largest file a download accepts unless the caller passes another ``max_bytes`` (or None).
# The API's longest songs are 8 minutes; as a 24-bit 48 kHz stereo WAV that is about 140 MB (as
# 32-bit float about 185 MB), so 256 MiB takes any real file while a runaway or hostile host
# cannot fill the disk. Checked against Content-Length before the body and while it streams,
# on the decoded bytes when the host compresses.
DOWNLOAD_MAX_BYTES = 256 * 1024 * 1024
# CDNs hand over once or twice (a short link to a signed storage URL); five hops is ample, and
# a longer chain is a loop or a trap.
DOWNLOAD_MAX_REDIRECTS = 5
# A part file (".<name>.aimusic-<12 hex>.part") untouched this long is left over from a killed
# process, and the next download into its folder removes it. A live download rewrites its part
# file at least every MiB, so an hour only misjudges a transfer slower than ~300 bytes/s.
DOWNLOAD_STALE_PART_AGE = 3600.0
# A folder is swept at most this often per process: a part file takes an hour to become stale,
# so a sweep minutes after the last one finds nothing new, while sweeping before every download
# would scan a folder of N files N times over a batch (quadratic: 7 ms a scan at 10,000 files).
DOWNLOAD_SWEEP_INTERVAL = 300.0
# Folders remembered as recently swept; a batch writes into one or a few.
DOWNLOAD_SWEPT_FOLDERS = 1024
# Titles become file names; most file systems allow 255 bytes, leave room for suffixes.
FILENAME_MAX = 120

# -- architecture (issue 13): values that moved here from the modules that used them ----------
# Bodies quoted in exceptions and logs (an error page, a garbled answer, a malformed clip or
# callback) are cut at this many characters: enough to recognise the answer, while a hostile
# multi-MB body is never copied into every message that mentions it.
BODY_EXCERPT = 300

# -- readable errors and the CLI surface (h14-surface) ---------------------------------------------
# The first line of a request ValidationError ("1 validation error for Model: field: rule") stays
# under this many characters: it is what a log line or a terminal shows, and a long enum's list
# of values or pydantic's union internals would otherwise push the field name out of sight.
VALIDATION_SUMMARY_MAX = 199
# The CLI's progress shows a jobs-per-minute rate (and an ETA from it) only from jobs that
# finished successfully, once this many seconds have passed: earlier, or counting jobs that
# failed at once, one job more or less swings the figure by thousands per minute.
PROGRESS_RATE_MIN_ELAPSED = 5.0

# -- the blocking client, request ids, hooks (h14-client) ----------------------------------------
# Where the request id of an answer is read, first found wins: the API's own header first, then
# what a proxy or CDN in front of it sets (Cloudflare's ray id, AWS load balancers and CloudFront).
# Any of them lets the vendor (or the proxy's operator) find the request in their logs.
REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-cf-id",
    "cf-ray",
)
# The blocking client's event-loop thread: a daemon, so a script that forgets close() still
# exits (its pool is closed at exit); named so a thread dump says whose it is.
SYNC_THREAD_NAME = "aimusic-sync-client"
# How long close() of a blocking client waits for its event-loop thread to finish closing the
# pool: closing takes milliseconds; a hook blocking the loop must not hang the caller forever.
SYNC_CLOSE_TIMEOUT = 30.0
# -- hubs, the wait that never times out blind, recoverable starts (h11-hubs) ---------------------
# The in-process hub keeps the final snapshots of the callbacks it saw (one that beat its start's
# answer home, a result a rebuilt handle or peek() asks for later) up to this many, each a few KB:
# bounded memory, and far more than the tasks whose callbacks arrive within one wait.
HUB_MEMORY_LIMIT = 4096
# How long a hub keeps a final snapshot, a reference -> task id link and a delivery's dedupe keys.
# A day covers a status page asked the next morning and a batch rerun after a crash; a task's
# results are useful far longer, but by then polling (or the user's own store) is the answer.
HUB_TTL = 86_400.0
# Every Redis call (a command, a connect, the pubsub subscription's confirmation) is abandoned
# after this long and the hub counted as down: Redis answers in well under a millisecond on a
# LAN, so a second is a stalled server, and a wait or a receiver must not hang on it.
HUB_REDIS_TIMEOUT = 1.0
# The pubsub connection is silent while nothing finishes; after this long without a message it
# is pinged, so a server that vanished without closing the socket (a paused process, a network
# partition) is noticed within this plus HUB_REDIS_TIMEOUT.
HUB_HEALTH_INTERVAL = 5.0
# Reconnecting to a Redis that is down: 0.1 s, doubling, capped at 5 s (jittered): back within a
# few seconds of the server, without hammering it while it restarts.
HUB_RECONNECT_INITIAL = 0.1
HUB_RECONNECT_MAX = 5.0
# Pending ids are re-read from Redis (after a reconnect, or as a batch of new waiters) this many
# keys per MGET: one round trip for a few KB per key, never one giant answer.
HUB_READ_CHUNK = 500
# Commands share a small pool beside the one pubsub connection: the receiver's writes and the
# batched reads never need more, and 10,000 waiting tasks cost no connection of their own.
HUB_REDIS_MAX_CONNECTIONS = 8
# A wait whose task expects a callback trusts it for at most this share of the wait (from the
# task's start to the deadline) before polling as a safety net: the grace of 150 s fits the
# default 600 s wait, and a 30 s wait gets 7.5 s, leaving room for fallback polls before its end.
WEBHOOK_GRACE_SHARE = 0.25
# The last look: a wait that has not seen the task finish polls once this long before its
# deadline (the same 1 s margin as POLL_DEADLINE_MARGIN), and raises TaskTimeoutError only after
# that poll said "not finished". For short waits the margin shrinks to this share of the wait.
LAST_LOOK_MARGIN = 1.0
LAST_LOOK_SHARE = 0.1
# The correlation reference a start that asks for a webhook adds to its webhook_url's query: 128
# random bits, URL-safe (22 characters), so it cannot be guessed and fits the API's URL limit.
REFERENCE_PARAM = "aimusic_ref"
REFERENCE_BYTES = 16
# client.recover(error) waits this long for the callback of a start whose answer was lost: the
# task calls back when it finishes, and tasks finish within the default wait (POLL_TIMEOUT) or
# are waited on no longer either; no callback by then means the start most likely never happened.
RECOVER_TIMEOUT = 600.0

# -- polling schedule: the lag target and the finish-time distribution ---------------------------
# The schedule polls by the durations of this many recent tasks of the same operation: enough
# to see the shape of the spread (about 1.5 % per sample), few enough to follow a service that
# got slower within a minute or two of a batch, and 64 floats per operation in memory.
SCHEDULE_SAMPLES = 64
# Below this many samples the earliest one is no evidence that nothing finishes sooner, so the
# schedule does not sleep through the quiet time before it.
SCHEDULE_MIN_SAMPLES = 8
# The spacing constant made from an operation's durations is made again after this many new
# ones: each moves it by about a 64th, and a poll should not pay a pass over every sample.
SCHEDULE_RECALIBRATE = 8
# A task whose clips all stream is planned by the learned time from streaming to the finish once
# this many tasks of its kind taught it (fewer say little about its spread).
SCHEDULE_MIN_STREAM_SAMPLES = 4
# A task not streaming yet is taken to be at least the shortest learned streaming-to-finish time
# from its finish only while this share of its kind's recent tasks streamed before finishing:
# a kind that sometimes skips the streaming state must not have its finishes noticed late.
SCHEDULE_STREAMING_SHARE = 0.9

# -- file names ------------------------------------------------------------------------------------
# Distinct characters whose file-name cleaning is remembered (a few dozen in practice: letters,
# digits, spaces); a bound, so titles full of distinct rare characters cannot grow the table.
FILENAME_CLEAN_CACHE = 4096
