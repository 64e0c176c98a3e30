"""The namespaces of the blocking client and of ``with_raw_response``: each async resource method
offered, typed, as a blocking call, a raw-response call or both (one ``Method`` per row of the
operation table; the classes at the end are generated from it)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, Generic, TypeVar, overload

from typing_extensions import ParamSpec, Self

from ._raw import RawResponse, raw_call
from ._tasks import Task
from .resources.account import AccountResource
from .resources.lyrics import LyricsResource
from .resources.nuro import NuroResource
from .resources.producer import ProducerResource
from .resources.riffusion import RiffusionResource
from .resources.sonic import SonicResource

if TYPE_CHECKING:
    from ._sync_client import Blocking, BlockingRaw, SyncTask

__all__ = [
    "AccountMethods",
    "AsyncRaw",
    "LyricsMethods",
    "Method",
    "Mode",
    "Namespace",
    "NuroMethods",
    "ProducerMethods",
    "RiffusionMethods",
    "SonicMethods",
    "method",
    "signature_returning",
]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


class Mode:
    """How the methods of a namespace run: ``bind`` turns the async bound method into the
    callable the namespace offers."""

    def bind(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        raise NotImplementedError


M = TypeVar("M", bound=Mode)


class AsyncRaw(Mode):
    """``client.with_raw_response``: the same coroutine, returning a ``RawResponse``."""

    def bind(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            return await raw_call(fn, *args, **kwargs)

        functools.update_wrapper(call, fn)
        call.__signature__ = signature_returning(fn, "RawResponse")  # type: ignore[attr-defined]
        return call


def signature_returning(fn: Callable[..., Any], returns: str) -> inspect.Signature:
    """``fn``'s signature with another return annotation (what ``help()`` and IDEs show)."""
    return inspect.signature(fn).replace(return_annotation=returns)


class Namespace(Generic[M]):
    """A namespace (``client.sonic``, ...) of a client flavour: ``mode`` says how its methods
    run, ``target`` is the async object whose methods they are."""

    def __init__(self, mode: M, target: Any) -> None:
        self._mode = mode
        self._target = target

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._target!r}>"


class Method(Generic[P, R, S]):
    """One async method (``R`` its result; ``S`` what the blocking client returns instead:
    ``SyncTask`` for a ``Task``) as each flavour of namespace offers it."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> None:
        self.fn = fn
        self.name = fn.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(
        self, obj: Namespace[AsyncRaw], owner: type
    ) -> Callable[P, Coroutine[Any, Any, RawResponse[R]]]: ...
    @overload
    def __get__(self, obj: Namespace[Blocking], owner: type) -> Callable[P, S]: ...
    @overload
    def __get__(self, obj: Namespace[BlockingRaw], owner: type) -> Callable[P, RawResponse[S]]: ...
    def __get__(self, obj: Namespace[Any] | None, owner: type) -> Any:
        if obj is None:
            return self
        bound = obj._mode.bind(getattr(obj._target, self.name))
        # Kept on the instance: the next lookup finds it there (this descriptor has no __set__).
        obj.__dict__[self.name] = bound
        return bound

    def __repr__(self) -> str:
        return f"<Method {self.fn.__qualname__}>"


@overload
def method(  # type: ignore[overload-overlap]  # the first that matches wins, on purpose
    fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, Task]],
) -> Method[P, Task, SyncTask]: ...
@overload
def method(fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> Method[P, R, R]: ...
@overload
def method(  # type: ignore[overload-cannot-match]  # it does match what the second cannot
    fn: Callable[..., Coroutine[Any, Any, R]],
) -> Method[..., R, R]: ...
def method(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Method[..., Any, Any]:
    """The namespace attribute for async method ``fn``: a ``Task`` it returns becomes a
    ``SyncTask`` in the blocking client, any other result stays what it is. (A method taking
    ``**kwargs: Any`` keeps its result type; its parameters are then unchecked.)"""
    return Method(fn)


# --- generated from the operation table: tests/test_sync_client.py keeps it in step -------------
class SonicMethods(Namespace[M]):
    """``client.sonic`` of the blocking client and of ``with_raw_response``."""

    create = method(SonicResource.create)
    extend = method(SonicResource.extend)
    cover = method(SonicResource.cover)
    concat = method(SonicResource.concat)
    create_with_persona = method(SonicResource.create_with_persona)
    remaster = method(SonicResource.remaster)
    add_vocals = method(SonicResource.add_vocals)
    add_instrumental = method(SonicResource.add_instrumental)
    upload_extend = method(SonicResource.upload_extend)
    upload_cover = method(SonicResource.upload_cover)
    sample = method(SonicResource.sample)
    mashup = method(SonicResource.mashup)
    replace_section = method(SonicResource.replace_section)
    stems_basic = method(SonicResource.stems_basic)
    stems_full = method(SonicResource.stems_full)
    create_voice = method(SonicResource.create_voice)
    upload = method(SonicResource.upload)
    upload_async = method(SonicResource.upload_async)
    create_persona = method(SonicResource.create_persona)
    bpm = method(SonicResource.bpm)
    vox = method(SonicResource.vox)
    wav = method(SonicResource.wav)
    midi = method(SonicResource.midi)
    aligned_lyrics = method(SonicResource.aligned_lyrics)
    upsample_tags = method(SonicResource.upsample_tags)
    get = method(SonicResource.get)


class ProducerMethods(Namespace[M]):
    """``client.producer`` of the blocking client and of ``with_raw_response``."""

    create = method(ProducerResource.create)
    upload = method(ProducerResource.upload)
    download = method(ProducerResource.download)
    make_lyrics = method(ProducerResource.make_lyrics)
    video_clip = method(ProducerResource.video_clip)
    get = method(ProducerResource.get)


class NuroMethods(Namespace[M]):
    """``client.nuro`` of the blocking client and of ``with_raw_response``."""

    create_vocal = method(NuroResource.create_vocal)
    create_instrumental = method(NuroResource.create_instrumental)
    get = method(NuroResource.get)


class RiffusionMethods(Namespace[M]):
    """``client.riffusion`` of the blocking client and of ``with_raw_response``."""

    create = method(RiffusionResource.create)
    upload = method(RiffusionResource.upload)
    get = method(RiffusionResource.get)


class LyricsMethods(Namespace[M]):
    """``client.lyrics`` of the blocking client and of ``with_raw_response``."""

    generate = method(LyricsResource.generate)


class AccountMethods(Namespace[M]):
    """``client.account`` of the blocking client and of ``with_raw_response``."""

    credits = method(AccountResource.credits)


# --- end of generated code -----------------------------------------------------------------------
