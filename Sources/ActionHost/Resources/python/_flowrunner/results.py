"""How a task's result is recorded (the ``value`` of its ``task_end``
message, stored as the step's result) and how a replay gets it back.

A replay must return what the first call returned, with its Python types.
The engine stores JSON, and JSON through the engine keeps only some values
exactly, so the record is an object of one of three shapes:

- ``{"json": V}``: V comes back exactly from its JSON: None, bool, str,
  int within 64 bits, non-integral finite float, list, and dict with str
  keys in sorted order (the engine writes keys sorted), nested.
- ``{"json": VIEW, "pickle": B64, "repr": R}``: anything else that pickles
  and unpickles; the replay unpickles B64 (standard base64 of a protocol 4
  pickle). VIEW (plain JSON, lossy: tuples as lists, keys as strings,
  other objects as {"$repr": ...}) and R (repr, at most 1000 characters)
  are for people; ``pickle`` is the only member a display should hide.
- ``{"json": VIEW, "repr": R, "replayable": false, "reason": TEXT}``: the
  value cannot be recorded (it holds a lock or a socket, or is too large);
  the action got the value, and a replay runs the task again.

The engine adds ``nested_steps`` to the stored object; it is ignored here."""
from . import bridge as _bridge
from .safe import exception_message, safe_repr, safe_text

RECORD_LIMIT_BYTES = 8 << 20
VIEW_LIMIT_BYTES = 64 << 10
PICKLE_PROTOCOL = 4
_INT_MIN = -(1 << 63) + 1
_INT_MAX = (1 << 63) - 1


def _text_ok(text):
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def exact_json(value, _depth=0):
    """True when the engine's JSON gives `value` back equal, with the same types and order."""
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is str:
        return _text_ok(value)
    if kind is int:
        return _INT_MIN <= value <= _INT_MAX
    if kind is float:
        # Integral floats come back as ints, NaN and infinities not at all.
        return value == value and value not in (float("inf"), float("-inf")) and not value.is_integer()
    if _depth > 100:
        return False
    if kind is list:
        return all(exact_json(item, _depth + 1) for item in value)
    if kind is dict:
        keys = []
        for key in value:
            if type(key) is not str or not _text_ok(key):
                return False
            keys.append(key.encode("utf-8"))
        if keys != sorted(keys):
            return False
        return all(exact_json(item, _depth + 1) for item in value.values())
    return False


def _size_text(size):
    if size >= 1 << 20:
        return "%.1f MiB" % (size / float(1 << 20))
    if size >= 1 << 10:
        return "%.1f KiB" % (size / float(1 << 10))
    return "%d bytes" % size


def _view(value):
    view = _bridge.plain(value)
    if len(_bridge.encode(view)) > VIEW_LIMIT_BYTES:
        return {"$repr": safe_repr(value, 4000)}
    return view


def _unreplayable(value, reason):
    return {"json": _view(value), "repr": safe_repr(value, 1000), "replayable": False, "reason": safe_text(reason)}


def encode(value):
    """The record of a task's result: (record, None), or (record, reason) when it cannot be replayed."""
    if exact_json(value):
        record = {"json": value}
        size = len(_bridge.encode(record))
        if size <= RECORD_LIMIT_BYTES:
            return record, None
        reason = "the result is %s of JSON, more than the %s a step records" % (
            _size_text(size), _size_text(RECORD_LIMIT_BYTES))
        return _unreplayable(value, reason), reason
    import base64
    import pickle
    try:
        data = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
        pickle.loads(data)
    except Exception as error:
        reason = "the result cannot be pickled (%s: %s)" % (type(error).__name__, exception_message(error))
        return _unreplayable(value, reason), reason
    if len(data) * 4 // 3 > RECORD_LIMIT_BYTES:
        reason = "the result pickles to %s, more than the %s a step records" % (
            _size_text(len(data)), _size_text(RECORD_LIMIT_BYTES))
        return _unreplayable(value, reason), reason
    return {"json": _view(value), "pickle": base64.b64encode(data).decode("ascii"), "repr": safe_repr(value, 1000)}, None


def decode(record):
    """(True, value) for a record a replay can return, else (False, why not)."""
    if not isinstance(record, dict):
        return True, record
    if record.get("replayable") is False:
        return False, record.get("reason") or "its result was not recorded"
    if "pickle" in record:
        import base64
        import pickle
        try:
            return True, pickle.loads(base64.b64decode(record["pickle"]))
        except Exception as error:
            return False, "its recorded result cannot be unpickled (%s: %s)" % (
                type(error).__name__, exception_message(error))
    if "json" in record:
        return True, record["json"]
    return True, record
