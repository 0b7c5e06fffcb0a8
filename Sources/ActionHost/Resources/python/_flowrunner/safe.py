"""Rendering objects that come from action code, safely.

Action code hands the host strings with lone surrogates (os.fsdecode of a
Latin-1 file name), exceptions whose __str__ raises, objects whose __repr__
raises. Turning them into text for the engine must never fail: these helpers
always return a str that encodes as UTF-8."""

_REPR_LIMIT = 2000


def safe_text(text):
    """`text` as a str that encodes as UTF-8: undecodable bytes carried as
    surrogate escapes become \\xNN, other lone surrogates \\udNNN."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _cut(text, limit):
    if limit is not None and len(text) > limit:
        return text[:limit] + "… (%d characters cut)" % (len(text) - limit)
    return text


def safe_repr(value, limit=_REPR_LIMIT):
    """repr(value), or a description of it when its __repr__ fails."""
    try:
        text = repr(value)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned %s" % type(text).__name__)
    except Exception as error:
        text = "<%s object (repr() failed: %s)>" % (_type_name(value), _error_summary(error))
    return _cut(safe_text(text), limit)


def safe_str(value, limit=None):
    """str(value), falling back to its repr, then to a description."""
    if type(value) is str:
        return _cut(safe_text(value), limit)
    try:
        text = str(value)
        if not isinstance(text, str):
            raise TypeError("__str__ returned %s" % type(text).__name__)
    except Exception:
        return safe_repr(value, limit)
    return _cut(safe_text(text), limit)


def _type_name(value):
    try:
        return type(value).__qualname__
    except Exception:
        return "object"


def _error_summary(error):
    """'KeyError: 'detail'' for an error raised while rendering (one level, never raising)."""
    try:
        text = str(error)
    except Exception:
        text = "<exception str() failed>"
    return "%s: %s" % (_type_name(error), safe_text(text)) if text else _type_name(error)


def exception_message(error):
    """The message of an exception: str(error); when that raises, a fallback
    naming what failed and the exception's arguments (as Python's traceback
    module does), never an exception."""
    try:
        text = str(error)
        if not isinstance(text, str):
            raise TypeError("__str__ returned %s" % type(text).__name__)
        return safe_text(text)
    except Exception as failure:
        reason = _error_summary(failure)
    try:
        args = error.args
        arguments = safe_repr(args[0] if len(args) == 1 else args)
    except Exception:
        arguments = None
    if arguments and arguments != "()":
        return "%s (str() of the exception failed: %s)" % (arguments, reason)
    return "<exception str() failed: %s>" % reason

