"""FlowRunner's Prefect compatibility layer (it shadows a real Prefect).

Supported: flow, task, get_run_logger, tags, prefect.runtime.flow_run,
prefect.logging.get_run_logger. Anything else fails at import with a message
naming this subset."""
import sys
import time

from _flowrunner import bridge as _bridge
from _flowrunner import logs as _logs
from _flowrunner import results as _results
from _flowrunner import runtime as _runtime
from _flowrunner import safe as _safe
from _flowrunner import signature as _signature
from _flowrunner import timeouts as _timeouts

SUPPORTED = "flow, task, get_run_logger, tags, prefect.runtime.flow_run, prefect.logging.get_run_logger"
_SUBMODULES = {"prefect.runtime", "prefect.runtime.flow_run", "prefect.logging"}

__all__ = ["flow", "task", "get_run_logger", "tags", "Flow", "Task"]
__version__ = "3-compat (FlowRunner)"


def _unsupported(name):
    return ImportError(
        "FlowRunner's prefect layer does not provide %r; the supported subset is: %s" % (name, SUPPORTED))


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise _unsupported("prefect." + name)


class _UnsupportedSubmodules:
    """A meta path finder: `import prefect.X` for an unsupported X is a clear ImportError."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith("prefect.") and fullname not in _SUBMODULES:
            raise _unsupported(fullname)
        return None


sys.meta_path.insert(0, _UnsupportedSubmodules())

_run_logger = _logs.RunLogger("prefect.flow_runs")


def get_run_logger(*_args, **_kwargs):
    """The run's logger: its records become log lines of the action."""
    return _run_logger


class tags:
    """Accepted for compatibility; does nothing."""

    def __init__(self, *names):
        self.names = names

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _delay_list(value):
    if value is None:
        return [0.0]
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value] or [0.0]
    return [float(value)]


def _wraps(wrapper, function):
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, attribute, getattr(function, attribute))
        except AttributeError:
            pass
    wrapper.__wrapped__ = function


class _Decorated:
    """What @flow and @task share: the function and the options Prefect names."""

    def __init__(self, fn, name=None, retries=None, retry_delay_seconds=None, timeout_seconds=None,
                 log_prints=None, description=None):
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = int(retries or 0)
        self.retry_delay_seconds = _delay_list(retry_delay_seconds)
        self.timeout_seconds = timeout_seconds
        self.log_prints = log_prints
        self.description = description or (fn.__doc__.strip() if fn.__doc__ else None)
        _wraps(self, fn)


class Flow(_Decorated):
    """A function marked with @flow; FlowRunner reads its options. Called
    from another flow (a subflow) it runs like the action's own flow: a sync
    one runs its calls where they are made, an async one called from
    synchronous code runs to its end."""

    def __call__(self, *args, **kwargs):
        if _bridge.bridge is None:
            return self.fn(*args, **kwargs)
        if _signature.is_coroutine_function(self.fn):
            caller = sys._getframe(1)
            if _runtime.caller_is_async(caller):
                return _runtime.track(self._call_async(args, kwargs), "flow %r" % self.name, caller)
            return _runtime.run_sync(self._call_async(args, kwargs),
                                     "the async flow %r, called from synchronous code," % self.name)
        token = _runtime.enter("sync")
        try:
            return self.fn(*args, **kwargs)
        finally:
            _runtime.leave(token)

    async def _call_async(self, args, kwargs):
        token = _runtime.enter("async")
        try:
            return await self.fn(*args, **kwargs)
        finally:
            _runtime.leave(token)

    def options(self):
        return {"name": self.name, "retries": self.retries, "retry_delay_seconds": self.retry_delay_seconds,
                "timeout_seconds": self.timeout_seconds, "log_prints": self.log_prints, "description": self.description}


def flow(fn=None, *, name=None, retries=None, retry_delay_seconds=None, timeout_seconds=None, log_prints=None,
         description=None, **_ignored):
    """Marks an action function (``@flow`` or ``@flow(retries=2, ...)``)."""
    def decorate(function):
        return Flow(function, name=name, retries=retries, retry_delay_seconds=retry_delay_seconds,
                    timeout_seconds=timeout_seconds, log_prints=log_prints, description=description)
    return decorate(fn) if fn is not None else decorate


def _seconds_text(seconds):
    return ("%g" % seconds) if isinstance(seconds, (int, float)) else str(seconds)


class Task(_Decorated):
    """A function marked with @task: each call is a checkpointed step.
    Retries happen inside the step; the step records the final outcome.

    An async task called from async code returns a coroutine; called from
    synchronous code (a sync flow or task, a thread) it runs to its end, as
    in Prefect. ``timeout_seconds`` applies to each attempt of sync and
    async tasks alike: past it the attempt fails with TimeoutError (and is
    retried if retries are left)."""

    def __init__(self, fn, **options):
        super().__init__(fn, **options)
        self.is_async = _signature.is_coroutine_function(fn)
        if self.timeout_seconds is not None:
            try:
                seconds = float(self.timeout_seconds)
            except (TypeError, ValueError):
                raise TypeError("@task(timeout_seconds=...) of %r must be a number of seconds, not %r"
                                % (self.name, self.timeout_seconds)) from None
            if not 0 <= seconds < float("inf"):
                raise ValueError("@task(timeout_seconds=...) of %r must be a finite number of seconds (0: no limit), not %r"
                                 % (self.name, self.timeout_seconds))

    def _begin_message(self, args, kwargs):
        arguments = _signature.bind_call(self.fn, args, kwargs)
        return {"type": "call", "kind": "task", "name": self.name,
                "args": _runtime.serializable_arguments(arguments)}

    def _delay(self, attempt):
        delays = self.retry_delay_seconds
        return delays[min(attempt - 1, len(delays) - 1)]

    def _timeout_message(self):
        return "task %r timed out after %s s (its timeout_seconds)" % (self.name, _seconds_text(self.timeout_seconds))

    def _log_retry(self, attempt, error, delay):
        try:
            _run_logger.warning("Task %r failed (attempt %d of %d): %s: %s; retrying in %gs",
                                self.name, attempt, self.retries + 1, type(error).__name__,
                                _safe.exception_message(error), delay)
        except Exception:
            pass  # a log line must never cost the task its retry

    def _replayed(self, begin):
        """(True, value) when the engine replays this call with a usable
        result; (False, None) when the task must run (recorded or not)."""
        if begin.get("ok") is False:
            error = begin.get("error") or {}
            raise RuntimeError("FlowRunner could not record the call of task %r as a step: %s: %s" % (
                self.name, error.get("type") or "EngineError", error.get("message") or "no reason given"))
        if not begin.get("replay"):
            return False, None
        usable, value = _results.decode(begin.get("value"))
        if usable:
            return True, value
        try:
            _run_logger.warning("Task %r: its recorded result cannot be replayed (%s); running it again",
                                self.name, value)
        except Exception:
            pass
        return False, None

    def _end_message(self, step, attempt, value=None, error=None):
        message = {"type": "task_end", "step": step, "ok": error is None, "attempts": attempt}
        if error is not None:
            message["error"] = {"type": type(error).__name__, "message": _safe.exception_message(error)}
            return message
        record, reason = _results.encode(value)
        if reason is not None:
            try:
                _run_logger.warning("Task %r: its result is not recorded for replay (%s); the action has it, "
                                    "and a later attempt runs the task again", self.name, reason)
            except Exception:
                pass
        message["value"] = record
        return message

    def _check_end(self, reply, cause=None):
        """Raises when the engine could not record the task's end (or an
        earlier step's): the action must not go on past an unrecorded step."""
        if isinstance(reply, dict) and reply.get("ok") is False:
            error = reply.get("error") or {}
            raise RuntimeError("FlowRunner could not record the end of task %r: %s: %s" % (
                self.name, error.get("type") or "EngineError", error.get("message") or "no reason given")) from cause

    def __call__(self, *args, **kwargs):
        channel = _bridge.bridge
        if channel is None:
            return self.fn(*args, **kwargs)
        if self.is_async:
            caller = sys._getframe(1)
            if _runtime.caller_is_async(caller):
                return _runtime.track(self._run_async(args, kwargs), "task %r" % self.name, caller)
            return _runtime.run_sync(self._run_async(args, kwargs),
                                     "the async task %r, called from synchronous code," % self.name)
        return self._run_sync(args, kwargs)

    # -- async tasks ---------------------------------------------------------------

    async def _run_async(self, args, kwargs):
        channel = _bridge.current()
        begin = await channel.call(self._begin_message(args, kwargs))
        replayed, value = self._replayed(begin)
        if replayed:
            return value
        step = None if begin.get("replay") else begin.get("step")
        attempt = 0
        while True:
            attempt += 1
            try:
                value = await self._attempt_async(channel, args, kwargs)
            except Exception as error:
                if attempt <= self.retries:
                    delay = self._delay(attempt)
                    self._log_retry(attempt, error, delay)
                    await self._sleep_async(channel, delay)
                    continue
                if step is not None:
                    self._check_end(await channel.call(self._end_message(step, attempt, error=error)), error)
                raise
            if step is not None:
                self._check_end(await channel.call(self._end_message(step, attempt, value=value)))
            return value

    async def _attempt_async(self, channel, args, kwargs):
        token = _runtime.enter("async")
        try:
            call = self.fn(*args, **kwargs)
            if not self.timeout_seconds:
                return await call
            loop = channel.loop_for_call()
            if loop is None:
                with _timeouts.Deadline(self.timeout_seconds, self._timeout_message()):
                    return await call
            import asyncio
            try:
                return await asyncio.wait_for(call, float(self.timeout_seconds))
            except asyncio.TimeoutError as error:
                # wait_for's own timeout (not a TimeoutError the body raised itself).
                if sys.version_info < (3, 11) or isinstance(error.__cause__, asyncio.CancelledError) or \
                        isinstance(error.__context__, asyncio.CancelledError):
                    raise TimeoutError(self._timeout_message()) from None
                raise
        finally:
            _runtime.leave(token)

    @staticmethod
    async def _sleep_async(channel, delay):
        if not delay:
            return
        if channel.loop_for_call() is not None:
            import asyncio
            await asyncio.sleep(delay)
        else:
            time.sleep(delay)

    # -- sync tasks ----------------------------------------------------------------

    def _run_sync(self, args, kwargs):
        channel = _bridge.current()
        begin = channel.call_sync(self._begin_message(args, kwargs))
        replayed, value = self._replayed(begin)
        if replayed:
            return value
        step = None if begin.get("replay") else begin.get("step")
        attempt = 0
        while True:
            attempt += 1
            try:
                value = self._attempt_sync(args, kwargs)
            except Exception as error:
                if attempt <= self.retries:
                    delay = self._delay(attempt)
                    self._log_retry(attempt, error, delay)
                    if delay:
                        time.sleep(delay)
                    continue
                if step is not None:
                    self._check_end(channel.call_sync(self._end_message(step, attempt, error=error)), error)
                raise
            if step is not None:
                self._check_end(channel.call_sync(self._end_message(step, attempt, value=value)))
            return value

    def _attempt_sync(self, args, kwargs):
        token = _runtime.enter("sync")
        try:
            if not self.timeout_seconds:
                return self.fn(*args, **kwargs)
            with _timeouts.Deadline(self.timeout_seconds, self._timeout_message()):
                return self.fn(*args, **kwargs)
        finally:
            _runtime.leave(token)

    def submit(self, *args, **kwargs):
        raise _unsupported("Task.submit")

    def map(self, *args, **kwargs):
        raise _unsupported("Task.map")


def task(fn=None, *, name=None, retries=None, retry_delay_seconds=None, timeout_seconds=None, log_prints=None,
         description=None, **_ignored):
    """Marks a function whose calls are checkpointed steps (``@task`` or ``@task(retries=3)``)."""
    def decorate(function):
        return Task(function, name=name, retries=retries, retry_delay_seconds=retry_delay_seconds,
                    timeout_seconds=timeout_seconds, log_prints=log_prints, description=description)
    return decorate(fn) if fn is not None else decorate
