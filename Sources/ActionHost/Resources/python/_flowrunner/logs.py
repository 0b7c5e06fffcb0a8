"""Everything the action writes becomes log lines sent to the engine:
print() and sys.stdout/sys.stderr writes, the run logger, and records of the
standard logging module. Output past a cap is dropped and counted, so an
action that prints a gigabyte cannot flood the engine.

The logging module is not imported by the host (it is slow to import); when
the action or a library imports it, a handler is installed before the next
primitive call and at the end of the action."""
import _thread
import sys
import time

from . import bridge as _bridge

LOG_CAP_BYTES = 8 << 20

_state = {"sent": 0, "dropped": 0, "logging": False}
_lock = _thread.allocate_lock()

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
_LEVEL_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error", CRITICAL: "critical"}


def level_name(number):
    if number in _LEVEL_NAMES:
        return _LEVEL_NAMES[number]
    return "debug" if number < INFO else "info" if number < WARNING else "warning" if number < ERROR else \
        "error" if number < CRITICAL else "critical"


def emit(level, logger, message):
    """Send one log line (or count it as dropped past the cap)."""
    size = len(message)
    with _lock:
        if _state["sent"] + size > LOG_CAP_BYTES:
            _state["dropped"] += size
            return
        _state["sent"] += size
    channel = _bridge.bridge
    if channel is None:
        return
    try:
        channel.send({"type": "log", "level": level, "logger": logger, "message": message, "time": time.time()})
    except _bridge.ChannelClosed:
        pass


def dropped_bytes():
    return _state["dropped"]


class LineStream:
    """A text stream that turns each written line into a log line."""

    def __init__(self, logger, level, fd):
        self._logger = logger
        self._level = level
        self._fd = fd
        self._partial = ""
        self._lock = _thread.allocate_lock()
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        if _state["sent"] >= LOG_CAP_BYTES:
            # Past the cap: count what is dropped without cutting it into lines.
            with _lock:
                _state["dropped"] += len(text)
            return len(text)
        with self._lock:
            data = self._partial + text
            lines = data.split("\n")
            self._partial = lines.pop()
        for line in lines:
            emit(self._level, self._logger, line)
        if len(self._partial) > 65536:
            self.flush()
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial:
            emit(self._level, self._logger, partial)

    def fileno(self):
        # Child processes given this stream write to the stderr pipe, which
        # the engine also turns into log lines.
        return self._fd

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    @property
    def closed(self):
        return False

    def close(self):
        self.flush()


class RunLogger:
    """What get_run_logger() returns: the methods of logging.Logger that
    actions use, without importing logging."""

    def __init__(self, name="prefect.flow_runs", level=INFO):
        self.name = name
        self.level = level

    def setLevel(self, level):
        self.level = level if isinstance(level, int) else {
            "DEBUG": DEBUG, "INFO": INFO, "WARNING": WARNING, "WARN": WARNING, "ERROR": ERROR, "CRITICAL": CRITICAL,
        }.get(str(level).upper(), INFO)

    def isEnabledFor(self, level):
        return level >= self.level

    def getChild(self, suffix):
        return RunLogger(self.name + "." + suffix, self.level)

    def log(self, level, message, *args, exc_info=None, **_kwargs):
        if level < self.level:
            return
        text = str(message)
        if args:
            try:
                text = text % (args[0] if len(args) == 1 and isinstance(args[0], dict) and args[0] else args)
            except (TypeError, ValueError, KeyError):
                text = "%s %s" % (text, " ".join(map(repr, args)))
        if exc_info:
            import traceback
            info = sys.exc_info() if exc_info is True else exc_info
            if isinstance(info, BaseException):
                info = (type(info), info, info.__traceback__)
            if info and info[0] is not None:
                text += "\n" + "".join(traceback.format_exception(*info)).rstrip("\n")
        emit(level_name(level), self.name, text)

    def debug(self, message, *args, **kwargs):
        self.log(DEBUG, message, *args, **kwargs)

    def info(self, message, *args, **kwargs):
        self.log(INFO, message, *args, **kwargs)

    def warning(self, message, *args, **kwargs):
        self.log(WARNING, message, *args, **kwargs)

    warn = warning

    def error(self, message, *args, **kwargs):
        self.log(ERROR, message, *args, **kwargs)

    def exception(self, message, *args, exc_info=True, **kwargs):
        self.log(ERROR, message, *args, exc_info=exc_info, **kwargs)

    def critical(self, message, *args, **kwargs):
        self.log(CRITICAL, message, *args, **kwargs)


def bridge_logging_if_imported():
    """Install a handler for the logging module, once it is imported."""
    if _state["logging"] or "logging" not in sys.modules:
        return
    _state["logging"] = True
    import logging

    class BridgeHandler(logging.Handler):
        def emit(self, record):
            try:
                message = record.getMessage()
                if record.exc_info:
                    message += "\n" + logging.Formatter().formatException(record.exc_info)
                emit(level_name(record.levelno), record.name, message)
            except Exception:
                self.handleError(record)

    root = logging.getLogger()
    root.addHandler(BridgeHandler())
    if root.level in (logging.WARNING, logging.NOTSET):
        root.setLevel(logging.INFO)


def install():
    sys.stdout = LineStream("stdout", "info", 2)
    sys.stderr = LineStream("stderr", "warning", 2)


def flush():
    for stream in (sys.stdout, sys.stderr):
        flush_stream = getattr(stream, "flush", None)
        if flush_stream:
            try:
                flush_stream()
            except Exception:
                pass
