"""The host's main program: handshake, import the action, call it with
arguments by name, drive it to its end, report the outcome.

A sync flow runs on the main thread without an event loop: the primitives
and async tasks it calls run to their end where they are called. An async
flow runs on a minimal driver (no asyncio import: start-up speed) unless the
action's module uses asyncio, in which case it runs under asyncio.run with
futures for concurrent calls.

A cancel (or the engine's SIGTERM, whichever comes first) interrupts the
action once; its finally blocks then run to their end, primitives included,
until the engine's grace period ends."""
import os
import _signal as signal  # the C module: the public one imports enum (slow), for names we do not need
import sys

from . import bridge as _bridge_module
from . import logs as _logs
from . import runtime as _runtime
from . import signature as _signature
from .safe import exception_message, safe_repr, safe_text

OFFERED = ("context", "deployment_id", "target_version", "current_version", "parameters", "backup_id")


class HostTerminated(BaseException):
    """SIGTERM from the engine: unwinds the action so its finally blocks run."""


class ActionLoadError(Exception):
    """The action's file or function cannot be loaded."""


class ActionSignatureError(Exception):
    """The action needs an argument the hook does not offer."""


class NeverAwaitedError(RuntimeError):
    """The action made primitive or task calls it never awaited: they did not run."""


def _loop_is_idle(loop):
    """The flow's event loop is waiting for events on this thread (no task's code runs)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or loop is None:
        return False
    try:
        return asyncio._get_running_loop() is loop and asyncio.current_task(loop) is None
    except Exception:
        return False


def _on_sigterm(_signum, _frame):
    """SIGTERM: from the engine (after a cancel's first grace period, or when
    the host outlived the engine), or sent by the reader thread to this
    thread when a cancel message arrives. Delivers the action's one
    interruption; later ones are ignored, so cleanup code runs on."""
    channel = _bridge_module.bridge
    if channel is None:
        raise HostTerminated("terminated by the engine")
    reason = channel.cancel_requested
    if not reason:
        channel.cancel_requested = "terminated"
    if channel.flow_task is not None and not channel.flow_task.done() and _loop_is_idle(channel.loop):
        # Awaiting: cancel the flow's task at its await, as a cancel message does.
        channel.loop.call_soon_threadsafe(channel.cancel_flow_task)
        return
    if not channel.take_interruption():
        # Interrupted once already: its cleanup runs on until the engine's grace period ends.
        return
    if reason:
        # Raised now, or after the protocol write in progress (then it must not be replaced below).
        channel.raise_in_main(_bridge_module.Cancelled("the engine cancelled the action (%s)" % reason))
        return
    channel.raise_in_main(HostTerminated("terminated by the engine"))


def _author_traceback(error):
    """The traceback without the host's own frames, so it points at the author's
    lines. Chained exceptions are shown as Python shows them, so an error the
    interpreter wraps (a StopIteration that became "coroutine raised
    StopIteration", PEP 479) keeps the author's frame that raised it."""
    import traceback
    host_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def section(exc, alone):
        frames = traceback.extract_tb(exc.__traceback__)
        kept = [frame for frame in frames if not os.path.abspath(frame.filename).startswith(host_dir)]
        # The host's own frames are shown only when nothing else would be.
        shown = kept or (frames if alone else [])
        lines = ["Traceback (most recent call last):\n"] + traceback.format_list(shown) if shown else []
        return lines + traceback.format_exception_only(type(exc), exc)

    chain, seen, current = [], set(), error
    while current is not None and id(current) not in seen and len(chain) < 10:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    lines = []
    for position, exc in enumerate(reversed(chain)):
        if position:
            newer = chain[len(chain) - position - 1]
            lines.append("\nThe above exception was the direct cause of the following exception:\n\n"
                         if newer.__cause__ is exc else
                         "\nDuring handling of the above exception, another exception occurred:\n\n")
        lines += section(exc, len(chain) == 1)
    return "".join(lines)


def _error(error):
    if isinstance(error, SyntaxError):
        message = "%s (%s, line %s)" % (error.msg, error.filename, error.lineno)
    else:
        message = exception_message(error)
    try:
        trace = _author_traceback(error)
    except Exception as failure:
        trace = "(the traceback could not be formatted: %s)" % exception_message(failure)
    result = {"type": type(error).__name__, "message": safe_text(message), "traceback": trace}
    try:
        details = getattr(error, "details", None)
    except Exception:
        details = None
    if isinstance(details, dict) and details:
        result["details"] = details
    return result


def _load_function(directory, location_file, function_name):
    path = os.path.join(directory, location_file)
    if not os.path.isfile(path):
        raise ActionLoadError("the action file %s does not exist" % location_file)
    import importlib.util
    module_name = os.path.splitext(location_file)[0].replace(os.sep, ".").replace("/", ".")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ActionLoadError("cannot load %s as a Python module" % location_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    target = getattr(module, function_name, None)
    if target is None:
        raise ActionLoadError("%s defines no function %r" % (location_file, function_name))
    if not callable(target):
        raise ActionLoadError("%s::%s is a %s, not a function" % (location_file, function_name, type(target).__name__))
    return target, path


def _uses_asyncio(path):
    if "asyncio" in sys.modules:
        return True
    try:
        with open(path, "rb") as handle:
            return b"asyncio" in handle.read()
    except OSError:
        return False


def _bind_arguments(function, offered, parameters, action_name):
    """Arguments by name from what the hook offers (and the driver's parameters)."""
    spec = _signature.parameters(function)
    if spec is None:
        return dict(offered)
    arguments = {}
    missing = []
    for name, kind, has_default in spec:
        if kind == "var_positional":
            continue
        if kind == "var_keyword":
            for key, value in offered.items():
                arguments.setdefault(key, value)
            continue
        if kind == "positional_only":
            if not has_default:
                missing.append(name)
            continue
        if name in offered:
            arguments[name] = offered[name]
        elif name in parameters:
            arguments[name] = parameters[name]
        elif not has_default:
            missing.append(name)
    if missing:
        raise ActionSignatureError(
            "action %r needs %s %s, which the hook cannot fill (it offers: %s%s)" % (
                action_name, "parameter" if len(missing) == 1 else "parameters",
                ", ".join(repr(m) for m in missing), ", ".join(OFFERED),
                (", and the driver parameters " + ", ".join(sorted(parameters))) if parameters else ""))
    return arguments


def _result_value(value):
    """What the action returned, for the done message (its JSON; a note when that is huge)."""
    size = len(_bridge_module.encode(value))
    if size > (4 << 20):
        return {"$repr": safe_repr(value, 4000), "$bytes": size}
    return value


def _run(function, arguments, channel, use_asyncio):
    if not _signature.is_coroutine_function(function):
        # A sync flow: runs here, without an event loop; the primitives and
        # async tasks it calls without await run where they are called.
        _runtime.enter("sync")
        result = function(**arguments)
        if not hasattr(result, "__await__"):
            return result
        if use_asyncio:
            import asyncio
            return asyncio.run(_run_asyncio(lambda: _awaiting(result), channel))
        return channel.drive(result, "the action")
    _runtime.enter("async")
    if use_asyncio:
        import asyncio
        return asyncio.run(_run_asyncio(lambda: function(**arguments), channel))
    return channel.drive(function(**arguments), "the action")


async def _awaiting(awaitable):
    return await awaitable


async def _run_asyncio(start, channel):
    import asyncio
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(start())
    channel.attach(loop, task)
    try:
        return await task
    finally:
        channel.detach()


def _never_awaited_error(left):
    """NeverAwaitedError for the calls made and never awaited, with a traceback of where."""
    import linecache
    places = []
    frames = []
    for what, (filename, line, function) in left:
        shown = os.path.relpath(filename) if os.path.isabs(filename) and filename.startswith(os.getcwd() + os.sep) else filename
        places.append("%s at %s:%s" % (what, shown, line))
        source = linecache.getline(filename, line).strip()
        frames.append('  File "%s", line %s, in %s\n%s' % (filename, line, function, ("    " + source + "\n") if source else ""))
    count = len(left)
    message = "%s never awaited, so %s never ran: %s. Add `await` before %s (in async code a primitive or " \
        "async task call returns a coroutine; in a sync flow or task it runs where it is called)" % (
            "a call was" if count == 1 else "%d calls were" % count, "it" if count == 1 else "they",
            "; ".join(places[:10]) + ("; …" if count > 10 else ""), "it" if count == 1 else "each")
    trace = "Traceback (calls never awaited):\n" + "".join(frames[:10]) + "NeverAwaitedError: " + message + "\n"
    return {"type": "NeverAwaitedError", "message": safe_text(message), "traceback": safe_text(trace)}


def _report_never_awaited():
    """After the action failed: the calls it left unawaited are logged, not made its error."""
    for what, (filename, line, _function) in _runtime.never_awaited():
        _logs.emit("warning", "flowrunner", "%s at %s:%s was never awaited, so it never ran" % (what, filename, line))


def _lost_channel(error):
    """The channel is gone: say so on the real stderr (the engine keeps its tail)."""
    try:
        os.write(2, ("flowrunner host: lost the protocol channel: %s\n" % error).encode("utf-8", "replace"))
    except OSError:
        pass
    return 3


def _is_cancellation(error):
    name = type(error).__name__
    return isinstance(error, _bridge_module.Cancelled) or (
        name == "CancelledError" and type(error).__module__.startswith(("asyncio", "concurrent")))


def _watch_parent():
    """If the engine dies (SIGKILL, crash), nothing would stop an action stuck
    in synchronous code: a daemon thread notices the new parent and ends the
    host's whole process group, so no orphan is left behind."""
    import _thread
    import time

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.25)
            if os.getppid() != parent:
                try:
                    os.killpg(0, signal.SIGTERM)
                    time.sleep(2)
                    os.killpg(0, signal.SIGKILL)
                except OSError:
                    os._exit(4)

    _thread.start_new_thread(watch, ())


def _shield():
    """Make this host non-dumpable before it learns anything (parameters
    arrive with the start message): other hosts running as the same action
    user can then neither read its memory nor trace it. Isolated hosts only
    (the engine sets FLOWRUNNER_HOST_SHIELD=1)."""
    if os.environ.pop("FLOWRUNNER_HOST_SHIELD", None) != "1":
        return
    try:
        _prctl()(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError, TypeError, ValueError):
        pass


def _prctl():
    """libc's prctl through ``_ctypes``, the C module behind ctypes: the
    ctypes package costs a tenth of a host's start. ctypes itself when
    ``_ctypes`` is not as expected."""
    try:
        import _ctypes

        class CInt(_ctypes._SimpleCData):
            _type_ = "i"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = CInt

        return Function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))
    except (ImportError, AttributeError, TypeError, OSError):
        import ctypes
        return ctypes.CDLL(None).prctl


def main():
    _shield()
    _watch_parent()
    channel = _bridge_module.Bridge()
    _bridge_module.bridge = channel
    signal.signal(signal.SIGTERM, _on_sigterm)
    channel.send({"type": "hello", "protocol": _bridge_module.PROTOCOL_VERSION, "pid": os.getpid(),
                  "python": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable})
    try:
        start = channel.read_message_blocking()
    except (_bridge_module.ChannelClosed, ValueError):
        return 2
    if start.get("type") != "start" or start.get("protocol") != _bridge_module.PROTOCOL_VERSION:
        channel.send({"type": "done", "ok": False, "error": {
            "type": "ProtocolError", "message": "expected a start message for protocol %d" % _bridge_module.PROTOCOL_VERSION}})
        return 2

    _logs.install()
    channel.before_call = _logs.bridge_logging_if_imported
    if start.get("replay"):
        from . import replay as _replay
        channel.local_replay = _replay.LocalReplay(start["replay"])
    channel.start_reader()
    directory = start.get("directory") or os.getcwd()
    try:
        os.chdir(directory)
    except OSError as error:
        channel.send({"type": "done", "ok": False, "error": {
            "type": "ActionLoadError", "message": "cannot enter the driver directory %s: %s" % (directory, error.strerror)}})
        return 2
    if directory not in sys.path:
        sys.path.append(directory)
    offered = start.get("arguments") or {}
    _runtime.flow_run.update(start.get("flow_run") or {})
    parameters = offered.get("parameters") or {}
    if isinstance(offered.get("context"), dict):
        from styrmin_backend.actions import GlobalContext
        offered["context"] = GlobalContext(offered["context"])
    action_name = start.get("action") or start.get("function")

    outcome = None
    try:
        function, path = _load_function(directory, start["file"], start["function"])
        options = function.options() if hasattr(function, "options") and callable(function.options) else {}
        channel.send({"type": "flow", "options": options})
        target = getattr(function, "fn", function)
        arguments = _bind_arguments(target, offered, parameters, action_name)
        _logs.bridge_logging_if_imported()
        value = _run(target, arguments, channel, _uses_asyncio(path))
        left = _runtime.never_awaited()
        if left:
            outcome = {"type": "done", "ok": False, "error": _never_awaited_error(left)}
        else:
            outcome = {"type": "done", "ok": True, "value": _result_value(value)}
    except _bridge_module.ChannelClosed as error:
        return _lost_channel(error)
    except HostTerminated as error:
        outcome = {"type": "done", "ok": False, "cancelled": True, "error": _error(error)}
    except SystemExit as error:
        failure = _error(error)
        failure["message"] = "the action called sys.exit(%s)" % (error.code,)
        outcome = {"type": "done", "ok": False, "error": failure}
    except BaseException as error:  # the action's own failure, whatever it is
        if _is_cancellation(error):
            outcome = {"type": "done", "ok": False, "cancelled": True, "error": {
                "type": "Cancelled", "message": "the action was cancelled (%s)" % (channel.cancel_requested or "cancelled"),
                "traceback": _author_traceback(error)}}
        else:
            outcome = {"type": "done", "ok": False, "error": _error(error)}
    finally:
        channel.detach()
        # The action is over: a late SIGTERM must not cut the report short.
        channel.take_interruption()
    if not outcome.get("ok") and outcome.get("error", {}).get("type") != "NeverAwaitedError":
        _report_never_awaited()
    _logs.bridge_logging_if_imported()
    _logs.flush()
    dropped = _logs.dropped_bytes()
    if dropped:
        outcome["log_bytes_dropped"] = dropped
    if channel.local_replay is not None:
        outcome["answered_locally"] = channel.local_replay.count
    try:
        channel.send(outcome)
    except _bridge_module.ChannelClosed as error:
        return _lost_channel(error)
    return 0
