"""Everything the action writes becomes log lines sent to the engine:
print() and sys.stdout/sys.stderr writes, the run logger, and records of the
standard logging module. Output past a cap is dropped and counted, so an
action that prints a gigabyte cannot flood the engine.

Text is never refused: a string with undecodable bytes (surrogate escapes
from os.fsdecode) is logged with those bytes escaped (\\xNN), and a record
larger than a log line may be (1 MiB), or than what is left of the action's
budget, is cut: its head is kept with a note saying how much was cut.

The logging module is not imported by the host (it is slow to import); when
the action or a library imports it, a handler is installed before the next
primitive call and at the end of the action."""
import _thread
import sys
import time

from . import bridge as _bridge
from .safe import safe_repr, safe_str

LOG_CAP_BYTES = 8 << 20
RECORD_LIMIT_BYTES = 1 << 20
# Below this much room left in the budget a record is dropped rather than cut.
_MINIMUM_HEAD_BYTES = 256

_state = {"sent": 0, "dropped": 0, "logging": False}
_lock = _thread.allocate_lock()

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
_LEVEL_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error", CRITICAL: "critical"}


def level_name(number):
    if number in _LEVEL_NAMES:
        return _LEVEL_NAMES[number]
    return "debug" if number < INFO else "info" if number < WARNING else "warning" if number < ERROR else \
        "error" if number < CRITICAL else "critical"


def _byte_size(text):
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _head(text, size):
    """The first `size` bytes of `text` (UTF-8), cut at a character boundary."""
    if text.isascii():
        return text[:size]
    return text.encode("utf-8", "backslashreplace")[:size].decode("utf-8", "ignore")


def _mib(size):
    return ("%.1f MiB" % (size / float(1 << 20))) if size >= 1 << 20 else ("%d bytes" % size)


def emit(level, logger, message):
    """Send one log line: cut to what a record and the budget allow, or
    counted as dropped past the cap."""
    if type(message) is not str:
        message = safe_str(message)
    size = _byte_size(message)
    cut = 0
    with _lock:
        room = LOG_CAP_BYTES - _state["sent"]
        if size <= room and size <= RECORD_LIMIT_BYTES:
            _state["sent"] += size
        else:
            keep = min(room, RECORD_LIMIT_BYTES)
            if keep < _MINIMUM_HEAD_BYTES:
                _state["dropped"] += size
                return
            cut = size - keep
            _state["sent"] += keep
            _state["dropped"] += cut
    if cut:
        why = "a log record keeps at most %s" % _mib(RECORD_LIMIT_BYTES) if keep == RECORD_LIMIT_BYTES else \
            "the action's log budget of %s is nearly used up" % _mib(LOG_CAP_BYTES)
        message = "%s\n… [log record cut: %d of its %d bytes dropped; %s]" % (_head(message, keep), cut, size, why)
    channel = _bridge.bridge
    if channel is None:
        return
    try:
        channel.send({"type": "log", "level": level, "logger": logger, "message": message, "time": time.time()})
    except _bridge.ChannelClosed:
        pass


def dropped_bytes():
    return _state["dropped"]


class _WriteOnly:
    """What a write-only, never-closed stream answers (shared by the text and binary log streams)."""

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


class LineStream(_WriteOnly):
    """A text stream that turns each written line into a log line."""

    def __init__(self, logger, level, fd):
        self._logger = logger
        self._level = level
        self._fd = fd
        self._partial = ""
        self._continued = False
        self._lock = _thread.allocate_lock()
        self.encoding = "utf-8"
        self.errors = "backslashreplace"
        self.buffer = _BinaryStream(self)

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
            if self._continued and data.startswith("\n"):
                # The newline ending a long line already sent in pieces: no empty line.
                data = data[1:]
            self._continued = False
            lines = data.split("\n")
            self._partial = lines.pop()
        for line in lines:
            emit(self._level, self._logger, line)
        if len(self._partial) > 65536:
            self.flush()
            self._continued = True
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



class _BinaryStream(_WriteOnly):
    """``sys.stdout.buffer``: bytes written there are log lines too (undecodable bytes escaped)."""

    def __init__(self, text_stream):
        self._text = text_stream

    def write(self, data):
        self._text.write(bytes(data).decode("utf-8", "backslashreplace"))
        return len(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._text.flush()

    def fileno(self):
        return self._text.fileno()



class _Shown:
    """An argument of a log call rendered safely (its __str__/__repr__ may raise)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __str__(self):
        return safe_str(self.value)

    def __repr__(self):
        return safe_repr(self.value)


def _shown(value):
    # Numbers stay numbers (%d, %.1f need them); other objects render safely.
    return value if isinstance(value, (int, float)) else _Shown(value)


def format_message(message, args):
    """`message % args` as logging does it; never raises: arguments whose
    str() or repr() fail are shown by a fallback, and a message that does
    not match its arguments is shown with them appended."""
    text = safe_str(message)
    if not args:
        return text
    mapping = len(args) == 1 and isinstance(args[0], dict) and args[0]
    try:
        return safe_str(text % (args[0] if mapping else args))
    except Exception:
        pass
    try:
        shown = {k: _shown(v) for k, v in args[0].items()} if mapping else tuple(_shown(a) for a in args)
        return safe_str(text % shown)
    except Exception:
        return "%s %s" % (text, " ".join(safe_repr(a) for a in args))


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
        text = format_message(message, args)
        if exc_info:
            import traceback
            info = sys.exc_info() if exc_info is True else exc_info
            if isinstance(info, BaseException):
                info = (type(info), info, info.__traceback__)
            if info and info[0] is not None:
                try:
                    text += "\n" + "".join(traceback.format_exception(*info)).rstrip("\n")
                except Exception:
                    text += "\n(the traceback could not be formatted)"
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


_logging_lock = _thread.allocate_lock()


def bridge_logging_if_imported():
    """Install a handler for the logging module, once it is imported."""
    if _state["logging"] or "logging" not in sys.modules:
        return
    with _logging_lock:
        if _state["logging"]:
            return
        _state["logging"] = True
    import logging

    class BridgeHandler(logging.Handler):
        def emit(self, record):
            try:
                try:
                    message = record.getMessage()
                except Exception:
                    message = format_message(record.msg, record.args)
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
    # Code that writes to the original streams (sys.__stdout__, fd 1 now
    # being stderr) must not fail on undecodable text either.
    for original in (sys.__stdout__, sys.__stderr__):
        try:
            original.reconfigure(errors="backslashreplace")
        except Exception:
            pass
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
