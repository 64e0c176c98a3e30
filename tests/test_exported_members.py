"""The public surface, pinned: the exact ``__all__`` of the package root and of each public
module, and every name in it importable. A change here is a change of the public API: make it on
purpose (and note it in the changelog)."""

from __future__ import annotations

import importlib

import pytest

import aimusic_async

ERRORS = [
    "AIMusicError",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchStoppedError",
    "ClientClosedError",
    "ConfigurationError",
    "ContentRejectedError",
    "DeliveryRefused",
    "DestinationError",
    "DestinationExistsError",
    "DestinationNotWritableError",
    "DownloadError",
    "EndpointRetiredError",
    "HubUnavailableError",
    "InsufficientCreditsError",
    "JournalConflictError",
    "JournalError",
    "JournalInUseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "SubmissionUnknownError",
    "SubscriptionInactiveError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskTimeoutError",
    "UnknownJobError",
    "WebhookVerificationError",
]

PUBLIC = {
    "aimusic_async": [
        "AIMusicClient",
        "BatchProgress",
        "BatchRun",
        "Clip",
        "Credits",
        "EventHooks",
        "Family",
        "Job",
        "JobOutcome",
        "Journal",
        "LyricsResult",
        "LyricsVariant",
        "PollEvent",
        "PollPolicy",
        "RawResponse",
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "SyncAIMusicClient",
        "SyncBatchRun",
        "SyncTask",
        "Task",
        "TaskResult",
        "TaskSnapshot",
        "WebhookEvent",
        "WebhookManager",
        "WebhookStats",
        "__version__",
        "parse_event",
        "run_batch",
        "verify_signature",
        *ERRORS,
    ],
    "aimusic_async.webhooks": [
        "Delivery",
        "DeliveryBudget",
        "DeliveryRefused",
        "WebhookEvent",
        "WebhookManager",
        "WebhookStats",
        "dedupe_keys",
        "parse_event",
        "reference_of",
        "verify_signature",
    ],
    "aimusic_async.hubs": ["Hub", "MemoryHub", "RedisHub"],
    "aimusic_async.batch": [
        "DEFAULT_CONCURRENCY",
        "BatchProgress",
        "BatchRun",
        "Job",
        "JobOutcome",
        "OutcomeOrigin",
        "OutcomeStatus",
        "ProgressHook",
        "run_batch",
        "validate_job",
    ],
    "aimusic_async.testing": [
        "Account",
        "ClipRecord",
        "Emulator",
        "EmulatorConfig",
        "EmulatorStats",
        "TaskRecord",
        "sign_webhook",
    ],
    "aimusic_async.models": ["Clip", "TaskResult", "TaskSnapshot", "TaskStatus"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_exactly_the_public_surface(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    assert len(set(module.__all__)) == len(module.__all__)  # no name listed twice


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_exported_name_is_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_every_error_is_an_aimusic_error_and_exported_from_the_root() -> None:
    for name in ERRORS:
        error = getattr(aimusic_async, name)
        assert issubclass(error, aimusic_async.AIMusicError), name
    # Nothing raised on purpose hides elsewhere: every AIMusicError subclass the package defines
    # is one of these.
    defined: set[str] = set()
    todo = [aimusic_async.AIMusicError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("aimusic_async"):
            defined.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    assert defined <= set(ERRORS)


@pytest.mark.parametrize(
    "module_name", ["aimusic_async.webhooks", "aimusic_async.batch", "aimusic_async.models"]
)
def test_public_module_names_are_the_roots_objects(module_name: str) -> None:
    """A name both a public module and the root export is one object, not two copies."""
    module = importlib.import_module(module_name)
    for name in set(module.__all__) & set(aimusic_async.__all__):
        assert getattr(module, name) is getattr(aimusic_async, name), name


def test_implementation_modules_are_private() -> None:
    """The modules behind the surface carry an underscore; their old public names are gone."""
    for name in ("tasks", "journal", "download", "pricing"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"aimusic_async.{name}")
        importlib.import_module(f"aimusic_async._{name}")
