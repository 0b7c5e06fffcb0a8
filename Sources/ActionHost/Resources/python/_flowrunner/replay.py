"""Local replay: calls the host answers itself from their recorded results.

The engine's ``start`` message may carry ``replay``: the calls the action
makes, in order, if it runs as its earlier attempt did, each with the result
the engine would replay (``[{"kind", "name", "args", "value"}]``). While the
action's calls match that list one by one (kind, name, and arguments as
canonical JSON: keys sorted, no spaces), the host answers each from it
without a round trip, and tells the engine afterwards in one ``replayed``
message (``{"type": "replayed", "calls": [CALL, ...]}``, the calls as they
would have been sent), always before any later call reaches the engine. The
first call that does not match ends local replay for the rest of the action:
it and every later call go to the engine, which decides them as always. The
engine decides every call answered here too, in order, and fails the action
if it would not have answered the same.
"""
import _thread

from . import jsonline as _jsonline

# Sent in batches of at most this many calls (one protocol line each).
BATCH = 256


class LocalReplay:
    """The calls still to answer, and the answered ones not yet reported."""

    def __init__(self, steps):
        self._steps = steps if isinstance(steps, list) else []
        self._next = 0
        self._lock = _thread.allocate_lock()
        self.answered = []
        self.active = bool(self._steps)

    def answer(self, message):
        """The result message for `message` (a ``call``) when it is the next
        recorded call, else None; a call that does not match ends local replay."""
        with self._lock:
            if not self.active:
                return None
            step = self._steps[self._next] if self._next < len(self._steps) else None
            if step is None or not _matches(step, message):
                self.active = False
                self._steps = []
                return None
            self._next += 1
            self.answered.append({"kind": message.get("kind"), "name": message.get("name"),
                                  "deployment": message.get("deployment"), "args": message.get("args")})
            if message.get("kind") == "task":
                return {"type": "result", "ok": True, "replay": True, "value": step.get("value")}
            return {"type": "result", "ok": True, "value": step.get("value")}

    def take(self):
        """The ``replayed`` message of the calls answered since the last one, or None."""
        with self._lock:
            if not self.answered:
                return None
            calls, self.answered = self.answered, []
        return {"type": "replayed", "calls": calls}

    @property
    def batch_full(self):
        return len(self.answered) >= BATCH


def _matches(step, message):
    if not isinstance(step, dict) or step.get("kind") != message.get("kind") or step.get("name") != message.get("name"):
        return False
    expected = step.get("_canonical")
    if expected is None:
        expected = step["_canonical"] = _canonical(step.get("args"))
    actual = _canonical(message.get("args"))
    return actual is not None and actual == expected


def _canonical(value):
    """Canonical JSON text of `value`, or None when it is not plain JSON data
    (NaN, objects json does not know, keys that cannot be sorted): such a
    call is sent to the engine."""
    try:
        return _jsonline.canonical(value)
    except (TypeError, ValueError, RecursionError):
        return None
