"""Local replay: calls the host answers itself from their recorded results.

The engine's ``start`` message may carry ``replay``: the calls the action
makes, in order, if it runs as its earlier attempt did, each with the result
the engine would replay (``[{"kind", "name", "args", "value"}]``). While the
action's calls match that list one by one (kind, name, and arguments as
canonical JSON: keys sorted, no spaces), the host answers each from it
without a round trip, and tells the engine afterwards in one ``replayed``
message (``{"type": "replayed", "calls": [CALL, ...]}``, the calls as they
would have been sent, each with ``n``, its index in the offered list),
always before any later message (a log line too) reaches the engine. The
first call that does not match ends local replay for the rest of the action:
it and every later call go to the engine, which decides them as always. The
engine decides every call answered here too, in order, and fails the action
if it would not have answered the same. Under an event loop the answer
arrives one loop turn later, as an engine reply would: concurrent branches
make their calls in the order they did when the engine answered. A cancel
ends local replay (later calls wait for the engine, where a cancel is
delivered as always).
"""
import _thread

from . import jsonline as _jsonline

# Sent in batches of at most this many calls or about this many bytes of
# arguments (one protocol line each, well below the engine's line limit).
BATCH = 256
BATCH_BYTES = 1 << 20


class LocalReplay:
    """The calls still to answer, and the answered ones not yet reported."""

    def __init__(self, steps):
        self._steps = steps if isinstance(steps, list) else []
        self._next = 0
        self._lock = _thread.allocate_lock()
        self.answered = []
        self._bytes = 0
        self.active = bool(self._steps)

    def answer(self, message):
        """The result message for `message` (a ``call``) when it is the next
        recorded call, else None; a call that does not match ends local replay."""
        # Written now, outside the lock (an argument's own code may log, which
        # reports answered calls): the action may change its objects later.
        arguments = _canonical(message.get("args"))
        entry = _entry(message, arguments) if arguments is not None else None
        with self._lock:
            steps = self._steps
            step = steps[self._next] if self.active and self._next < len(steps) else None
            if step is None or entry is None or not _matches(step, message, arguments):
                self._stop()
                return None
            self.answered.append(entry[0] + str(self._next) + entry[1])
            self._next += 1
            self._bytes += len(entry[0]) + len(entry[1])
        if message.get("kind") == "task":
            return {"type": "result", "ok": True, "replay": True, "value": step.get("value")}
        return {"type": "result", "ok": True, "value": step.get("value")}

    def stop(self):
        """No more calls are answered here (the action is being cancelled)."""
        with self._lock:
            self._stop()

    def _stop(self):
        self.active = False
        self._steps = []

    @property
    def count(self):
        """How many calls were answered here."""
        return self._next

    def take(self):
        """The ``replayed`` line (bytes) of the calls answered since the last one, or None."""
        with self._lock:
            if not self.answered:
                return None
            calls, self.answered, self._bytes = self.answered, [], 0
        return ('{"type":"replayed","calls":[' + ",".join(calls) + "]}\n").encode("utf-8")

    @property
    def batch_full(self):
        return len(self.answered) >= BATCH or self._bytes >= BATCH_BYTES


def _matches(step, message, arguments):
    """Whether the call (`arguments`: its canonical JSON) is `step`'s."""
    if not isinstance(step, dict) or step.get("kind") != message.get("kind") or step.get("name") != message.get("name"):
        return False
    expected = step.get("_canonical")
    if expected is None:
        expected = step["_canonical"] = _canonical(step.get("args"))
    return arguments == expected


def _entry(message, arguments):
    """The call as the ``replayed`` message lists it, as JSON text around
    its index ``n`` (in the offered list, known only under the lock), or
    None when it cannot be written as UTF-8 JSON (such a call goes to the engine)."""
    try:
        head = _jsonline.canonical({"kind": message.get("kind"), "name": message.get("name"),
                                    "deployment": message.get("deployment")})
        (head + arguments).encode("utf-8")
        return head[:-1] + ',"n":', ',"args":' + arguments + "}"
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None


def _canonical(value):
    """Canonical JSON text of `value`, or None when it is not plain JSON data
    (NaN, objects json does not know, keys that cannot be sorted): such a
    call is sent to the engine."""
    try:
        return _jsonline.canonical(value)
    except (TypeError, ValueError, RecursionError):
        return None
