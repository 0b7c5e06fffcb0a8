"""State of the run the host executes: shared by the prefect layer and
styrmin_backend.actions.

Also decides how a primitive or an async task runs when it is called (the
rule Prefect applies to its sync-compatible calls): awaitable code gets a
coroutine to await; synchronous code (a sync flow, a sync task, a thread)
gets the call run to its end and its value, so a sync flow that calls
``stop_components(...)`` without ``await`` really stops them. Coroutines that
were handed out and never awaited are tracked: an action that leaves one
behind fails, naming the call and its line, instead of succeeding with the
work not done."""
import _thread
import contextvars
import sys

flow_run = {"id": None, "name": None, "parameters": {}}

# "async" or "sync": the innermost flow or task whose code is running.
_kind = contextvars.ContextVar("flowrunner_code_kind", default=None)

_CO_COROUTINE = 0x80
_CO_ITERABLE_COROUTINE = 0x100
_CO_ASYNC_GENERATOR = 0x200
_ASYNC_FLAGS = _CO_COROUTINE | _CO_ITERABLE_COROUTINE | _CO_ASYNC_GENERATOR
# Frames of their own that belong to the code around them.
_TRANSPARENT = frozenset(("<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>", "<lambda>"))


def serializable_arguments(arguments):
    """Task arguments as JSON-friendly data; the deployment context is
    replaced by a marker (it is frozen per run, so not part of the digest)."""
    from styrmin_backend.actions import GlobalContext

    def convert(value):
        if isinstance(value, GlobalContext):
            return {"$context": True}
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value

    return convert(arguments)


def enter(kind):
    """The code about to run is a flow or task of `kind` ("async"/"sync"); returns the token for ``leave``."""
    return _kind.set(kind)


def leave(token):
    try:
        _kind.reset(token)
    except ValueError:  # set in another context (a coroutine resumed elsewhere)
        _kind.set(token.old_value if token.old_value is not token.MISSING else None)


def caller_is_async(frame):
    """Whether the code of `frame` (the caller of a primitive or an async
    task) awaits what it calls: it is a coroutine, or synchronous helper
    code of an async flow or task on the flow's thread (which, as in
    Prefect, gets a coroutine too). Synchronous code anywhere else runs the
    call itself."""
    while frame is not None and frame.f_code.co_name in _TRANSPARENT:
        frame = frame.f_back
    if frame is None:
        return False
    if frame.f_code.co_flags & _ASYNC_FLAGS:
        return True
    from . import bridge as _bridge
    channel = _bridge.bridge
    if channel is None or _thread.get_ident() != channel.main_thread:
        return False
    return _kind.get() == "async"


def run_sync(coroutine, what):
    """Runs a coroutine to its end for synchronous code and returns its
    value: on a fresh event loop when the action uses asyncio (and none runs
    on this thread), else on the host's own driver (FlowRunner calls only)."""
    from . import bridge as _bridge
    channel = _bridge.current()
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or asyncio._get_running_loop() is not None:
        return channel.drive(coroutine, what)

    async def run():
        task = asyncio.ensure_future(coroutine)
        # On the flow's thread, a cancel cancels this task as it would the flow's.
        attached = _thread.get_ident() == channel.main_thread and channel.flow_task is None
        if attached:
            channel.attach(asyncio.get_running_loop(), task)
        try:
            return await task
        finally:
            if attached:
                channel.detach()

    return asyncio.run(run())


# -- coroutines handed out and not awaited yet --------------------------------

_handed_out = []


def _never_started(coroutine):
    if getattr(coroutine, "cr_running", False):
        return False
    frame = getattr(coroutine, "cr_frame", None)
    if frame is None:
        return False  # finished or closed
    suspended = getattr(coroutine, "cr_suspended", None)  # Python 3.11+
    if suspended is not None:
        return not suspended
    return frame.f_lasti < 0


def track(coroutine, what, frame):
    """Remember a coroutine handed to action code, with where it was made."""
    while frame is not None and frame.f_code.co_name in _TRANSPARENT and frame.f_back is not None:
        frame = frame.f_back
    where = (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name) if frame is not None else ("?", 0, "?")
    if len(_handed_out) >= 256:
        _handed_out[:] = [entry for entry in _handed_out if _never_started(entry[0])]
    _handed_out.append((coroutine, what, where))
    return coroutine


def never_awaited():
    """The coroutines handed out that never started: [(what, (file, line, function))].
    They are closed (they will never run), so Python does not warn again."""
    left = []
    for coroutine, what, where in _handed_out:
        if _never_started(coroutine):
            left.append((what, where))
            try:
                coroutine.close()
            except BaseException:
                pass
    del _handed_out[:]
    return left
