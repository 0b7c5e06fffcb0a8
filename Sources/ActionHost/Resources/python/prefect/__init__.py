"""FlowRunner's Prefect compatibility layer (it shadows a real Prefect).

Supported: flow, task, get_run_logger, tags, prefect.runtime.flow_run,
prefect.logging.get_run_logger. Anything else fails at import with a message
naming this subset."""
import asyncio
import base64
import functools
import importlib.abc
import inspect
import json
import logging
import pickle
import sys
import time

from _flowrunner import bridge as _bridge
from _flowrunner import runtime as _runtime

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


class _UnsupportedSubmodules(importlib.abc.MetaPathFinder):
    """Turns `import prefect.X` for an unsupported X into a clear ImportError."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith("prefect.") and fullname not in _SUBMODULES:
            raise _unsupported(fullname)
        return None


sys.meta_path.insert(0, _UnsupportedSubmodules())


def get_run_logger(*_args, **_kwargs):
    """The run's logger: its records become log lines of the action."""
    return logging.getLogger("prefect.flow_runs")


class tags:
    """Accepted for compatibility; does nothing."""

    def __init__(self, *names):
        self.names = names

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Flow:
    """A function marked with @flow; FlowRunner reads its options."""

    def __init__(self, fn, name=None, retries=None, retry_delay_seconds=None, timeout_seconds=None,
                 log_prints=None, description=None):
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = int(retries or 0)
        self.retry_delay_seconds = _delay_list(retry_delay_seconds)
        self.timeout_seconds = timeout_seconds
        self.log_prints = log_prints
        self.description = description or inspect.getdoc(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def options(self):
        return {"name": self.name, "retries": self.retries, "retry_delay_seconds": self.retry_delay_seconds,
                "timeout_seconds": self.timeout_seconds, "log_prints": self.log_prints, "description": self.description}


def _delay_list(value):
    if value is None:
        return [0.0]
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value] or [0.0]
    return [float(value)]


def flow(fn=None, *, name=None, retries=None, retry_delay_seconds=None, timeout_seconds=None, log_prints=None,
         description=None, **_ignored):
    """Marks an action function (``@flow`` or ``@flow(retries=2, ...)``)."""
    def decorate(function):
        return Flow(function, name=name, retries=retries, retry_delay_seconds=retry_delay_seconds,
                    timeout_seconds=timeout_seconds, log_prints=log_prints, description=description)
    return decorate(fn) if fn is not None else decorate


def _encode_result(value):
    try:
        json.dumps(value, allow_nan=False)
        return {"json": value}
    except (TypeError, ValueError):
        return {"pickle": base64.b64encode(pickle.dumps(value)).decode("ascii"), "repr": repr(value)}


def _decode_result(value):
    if isinstance(value, dict) and "pickle" in value:
        return pickle.loads(base64.b64decode(value["pickle"]))
    if isinstance(value, dict) and "json" in value:
        return value["json"]
    return value


class TaskFailed(Exception):
    """Raised on replay of a task whose recorded attempt failed (not normally seen)."""


class Task:
    """A function marked with @task: each call is a checkpointed step."""

    def __init__(self, fn, name=None, retries=None, retry_delay_seconds=None, timeout_seconds=None,
                 log_prints=None, description=None):
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = int(retries or 0)
        self.retry_delay_seconds = _delay_list(retry_delay_seconds)
        self.timeout_seconds = timeout_seconds
        self.description = description
        self.is_async = inspect.iscoroutinefunction(fn)
        functools.update_wrapper(self, fn)

    def _begin_message(self, args, kwargs):
        try:
            bound = inspect.signature(self.fn).bind(*args, **kwargs)
            arguments = dict(bound.arguments)
        except TypeError:
            arguments = {"args": list(args), "kwargs": kwargs}
        return {"type": "call", "kind": "task", "name": self.name,
                "args": _runtime.serializable_arguments(arguments)}

    def _delay(self, attempt):
        delays = self.retry_delay_seconds
        return delays[min(attempt - 1, len(delays) - 1)]

    def _log_retry(self, attempt, error, delay):
        get_run_logger().warning("Task %r failed (attempt %d of %d): %s: %s; retrying in %gs",
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
                value = await (asyncio.wait_for(call, self.timeout_seconds) if self.timeout_seconds else call)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if attempt <= self.retries:
                    delay = self._delay(attempt)
                    self._log_retry(attempt, error, delay)
                    await asyncio.sleep(delay)
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
