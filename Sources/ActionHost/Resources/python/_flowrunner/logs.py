"""Everything the action writes becomes log lines sent to the engine:
print() and sys.stdout/sys.stderr writes, and logging records (including
get_run_logger()). Output past a cap is dropped and counted, so an action
that prints a gigabyte cannot flood the engine."""
import logging
import sys
import threading
import time

from . import bridge as _bridge

LOG_CAP_BYTES = 8 << 20

_state = {"sent": 0, "dropped": 0, "action": None}
_lock = threading.Lock()


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
        self._lock = threading.Lock()
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
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
        # Child processes that inherit this stream write to the stderr pipe,
        # which the engine also turns into log lines.
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


class BridgeHandler(logging.Handler):
    """Sends logging records to the engine."""

    LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
              logging.ERROR: "error", logging.CRITICAL: "critical"}

    def emit(self, record):
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            level = self.LEVELS.get(record.levelno)
            if level is None:
                level = "debug" if record.levelno < logging.INFO else "info" if record.levelno < logging.WARNING else \
                    "warning" if record.levelno < logging.ERROR else "error"
            emit(level, record.name, message)
        except Exception:
            self.handleError(record)


def install():
    sys.stdout = LineStream("stdout", "info", 2)
    sys.stderr = LineStream("stderr", "warning", 2)
    root = logging.getLogger()
    root.addHandler(BridgeHandler())
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def flush():
    for stream in (sys.stdout, sys.stderr):
        flush_stream = getattr(stream, "flush", None)
        if flush_stream:
            try:
                flush_stream()
            except Exception:
                pass
