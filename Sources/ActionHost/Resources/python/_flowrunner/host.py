"""The host's main program: handshake, import the action, call it with
arguments by name, drive it to its end, report the outcome.

Coroutines run on a minimal driver (no asyncio import: start-up speed)
unless the action's module uses asyncio, in which case they run under
asyncio.run with futures for concurrent calls."""
import os
import signal
import sys

from . import bridge as _bridge_module
from . import logs as _logs
from . import runtime as _runtime
from . import signature as _signature

OFFERED = ("context", "deployment_id", "target_version", "current_version", "parameters")


class HostTerminated(BaseException):
    """SIGTERM from the engine: unwinds the action so its finally blocks run."""


class ActionLoadError(Exception):
    """The action's file or function cannot be loaded."""


class ActionSignatureError(Exception):
    """The action needs an argument the hook does not offer."""


def _on_sigterm(_signum, _frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise HostTerminated("terminated by the engine")


def _author_traceback(error):
    """The traceback without the host's own frames, so it points at the author's lines."""
    import traceback
    frames = traceback.extract_tb(error.__traceback__)
    host_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kept = [frame for frame in frames if not os.path.abspath(frame.filename).startswith(host_dir)]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(kept or frames)
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)


def _error(error):
    if isinstance(error, SyntaxError):
        message = "%s (%s, line %s)" % (error.msg, error.filename, error.lineno)
    else:
        message = str(error)
    result = {"type": type(error).__name__, "message": message, "traceback": _author_traceback(error)}
    details = getattr(error, "details", None)
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
    try:
        _bridge_module.encode(value)
        return value
    except Exception:
        return {"$repr": repr(value)}


def _drive(coroutine, channel):
    """Runs a coroutine whose only awaits are bridge replies, without asyncio."""
    value = None
    error = None
    while True:
        try:
            if error is not None:
                awaited = coroutine.throw(error)
                error = None
            else:
                awaited = coroutine.send(value)
        except StopIteration as stop:
            return stop.value
        value = None
        if not isinstance(awaited, _bridge_module.Reply):
            error = RuntimeError(
                "the action awaited %r, which FlowRunner can only run under asyncio; "
                "import asyncio in the action's module" % (awaited,))
            continue
        try:
            channel.wait_for(awaited)
        except _bridge_module.Cancelled as cancelled:
            error = cancelled


async def _run_asyncio(function, arguments, channel):
    import asyncio
    loop = asyncio.get_running_loop()
    channel.attach(loop)
    result = function(**arguments)
    if hasattr(result, "__await__"):
        task = asyncio.ensure_future(result)

        def cancel(_reason):
            loop.call_soon_threadsafe(task.cancel)

        channel.on_cancel = cancel
        if channel.cancel_requested:
            task.cancel()
        result = await task
    return result


def _run(function, arguments, channel, use_asyncio):
    if use_asyncio:
        import asyncio
        return asyncio.run(_run_asyncio(function, arguments, channel))
    result = function(**arguments)
    if hasattr(result, "__await__") and hasattr(result, "send"):
        return _drive(result, channel)
    if hasattr(result, "__await__"):
        return _drive(result.__await__(), channel)
    return result


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
    (the engine sets FLOWRUNNER_HOST_SHIELD=1); it costs the ctypes import."""
    if os.environ.pop("FLOWRUNNER_HOST_SHIELD", None) != "1":
        return
    try:
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


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
    _logs.bridge_logging_if_imported()
    _logs.flush()
    dropped = _logs.dropped_bytes()
    if dropped:
        outcome["log_bytes_dropped"] = dropped
    try:
        channel.send(outcome)
    except _bridge_module.ChannelClosed as error:
        return _lost_channel(error)
    return 0
