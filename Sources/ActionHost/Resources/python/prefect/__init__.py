"""FlowRunner's Prefect compatibility layer (it shadows a real Prefect).

Supported: flow, task, get_run_logger, tags, prefect.runtime.flow_run,
prefect.logging.get_run_logger. Anything else fails at import with a message
naming this subset."""
import sys
import time

from _flowrunner import bridge as _bridge
from _flowrunner import logs as _logs
from _flowrunner import runtime as _runtime
from _flowrunner import signature as _signature

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
    """A function marked with @flow; FlowRunner reads its options."""

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

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


def _encode_result(value):
    import json
    try:
        json.dumps(value, allow_nan=False)
        return {"json": value}
    except (TypeError, ValueError):
        import base64
        import pickle
        return {"pickle": base64.b64encode(pickle.dumps(value)).decode("ascii"), "repr": repr(value)}


def _decode_result(value):
    if isinstance(value, dict) and "pickle" in value:
        import base64
        import pickle
        return pickle.loads(base64.b64decode(value["pickle"]))
    if isinstance(value, dict) and "json" in value:
        return value["json"]
    return value


class Task(_Decorated):
    """A function marked with @task: each call is a checkpointed step.
    Retries happen inside the step; the step records the final outcome."""

    def __init__(self, fn, **options):
        super().__init__(fn, **options)
        self.is_async = _signature.is_coroutine_function(fn)

    def _begin_message(self, args, kwargs):
        arguments = _signature.bind_call(self.fn, args, kwargs)
        return {"type": "call", "kind": "task", "name": self.name,
                "args": _runtime.serializable_arguments(arguments)}

    def _delay(self, attempt):
        delays = self.retry_delay_seconds
        return delays[min(attempt - 1, len(delays) - 1)]

    def _log_retry(self, attempt, error, delay):
        _run_logger.warning("Task %r failed (attempt %d of %d): %s: %s; retrying in %gs",
                            self.name, attempt, self.retries + 1, type(error).__name__, error, delay)

    def __call__(self, *args, **kwargs):
        if _bridge.bridge is None:
            return self.fn(*args, **kwargs)
        if self.is_async:
            return self._run_async(args, kwargs)
        return self._run_sync(args, kwargs)

    async def _run_async(self, args, kwargs):
        channel = _bridge.current()
        begin = await channel.call(self._begin_message(args, kwargs))
        if begin.get("replay"):
            return _decode_result(begin.get("value"))
        step = begin.get("step")
        attempt = 0
        while True:
            attempt += 1
            try:
                call = self.fn(*args, **kwargs)
                if self.timeout_seconds and channel.loop is not None:
                    import asyncio
                    call = asyncio.wait_for(call, self.timeout_seconds)
                value = await call
            except Exception as error:
                if attempt <= self.retries:
                    delay = self._delay(attempt)
                    self._log_retry(attempt, error, delay)
                    if channel.loop is not None:
                        import asyncio
                        await asyncio.sleep(delay)
                    else:
                        time.sleep(delay)
                    continue
                await channel.call({"type": "task_end", "step": step, "ok": False, "attempts": attempt,
                                    "error": {"type": type(error).__name__, "message": str(error)}})
                raise
            await channel.call({"type": "task_end", "step": step, "ok": True, "attempts": attempt,
                                "value": _encode_result(value)})
            return value

    def _run_sync(self, args, kwargs):
        channel = _bridge.current()
        begin = channel.call_sync(self._begin_message(args, kwargs))
        if begin.get("replay"):
            return _decode_result(begin.get("value"))
        step = begin.get("step")
        attempt = 0
        while True:
            attempt += 1
            try:
                value = self.fn(*args, **kwargs)
            except Exception as error:
                if attempt <= self.retries:
                    delay = self._delay(attempt)
                    self._log_retry(attempt, error, delay)
                    time.sleep(delay)
                    continue
                channel.call_sync({"type": "task_end", "step": step, "ok": False, "attempts": attempt,
                                   "error": {"type": type(error).__name__, "message": str(error)}})
                raise
            channel.call_sync({"type": "task_end", "step": step, "ok": True, "attempts": attempt,
                               "value": _encode_result(value)})
            return value

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
