"""JSON for the protocol lines on the interpreter's C accelerator (``_json``),
without importing the ``json`` package: it imports ``re`` (and with it
``enum``), about a third of a host's start. The behaviour is json's:
``encode`` is ``json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
allow_nan=False, default=...).encode`` and ``loads`` is ``json.loads`` on
UTF-8 (errors are ValueError). An interpreter whose ``_json`` differs
(another signature, none at all) gets the json package instead.
``canonical`` is ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)`` without a fallback (TypeError for
what json does not know): local replay compares arguments with it."""


def _from_package():
    import json

    def encoder(default):
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default).encode

    def loads(data):
        return json.loads(data)

    def canonical(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    return encoder, loads, canonical


def _from_accelerator():
    import _json

    class _Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
        memo = {}

    scan = _json.make_scanner(_Context())
    make, quote = _json.make_encoder, _json.encode_basestring

    def encoder(default):
        def encode(value):
            # A fresh marker dict per call, as JSONEncoder does: cycles are
            # found, and a failed call leaves nothing behind for the next.
            chunks = make({}, default, quote, None, ":", ",", False, False, False)(value, 0)
            return "".join(chunks)
        return encode

    def loads(data):
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        start = len(text) - len(text.lstrip(" \t\n\r"))
        try:
            value, end = scan(text, start)
        except (StopIteration, SystemError):
            # Not JSON: json itself says why (the accelerator's own messages
            # need json.decoder, which is imported only now, on this path).
            import json
            return json.loads(text)
        if text[end:].strip(" \t\n\r"):
            import json
            return json.loads(text)
        return value

    def _refuse(value):
        raise TypeError("not JSON data: %s" % type(value).__name__)

    def canonical(value):
        # json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return "".join(make({}, _refuse, quote, None, ":", ",", True, False, False)(value, 0))

    # All three must give json's answers, or the package is used.
    probe = encoder(lambda value: [1])({"a": ["é", 1.5, None, True, object()]})
    if probe != '{"a":["é",1.5,null,true,[1]]}' or loads(b' {"x": [1, 2.5, "\\u00e9"]} ') != {"x": [1, 2.5, "é"]} \
            or canonical({"b": 1, "a": [1.0, "é"]}) != '{"a":[1.0,"é"],"b":1}':
        raise ImportError("_json answers differently")
    return encoder, loads, canonical


try:
    make_encoder, loads, canonical = _from_accelerator()
except Exception:  # noqa: BLE001 - any difference means the package, which is always right
    make_encoder, loads, canonical = _from_package()
