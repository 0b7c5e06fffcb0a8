"""PATCH bodies: JSON merge patch (RFC 7386), a strategic merge patch subset,
and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy

from .errors import ApiError, bad_request

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Lists of objects that a strategic merge patch merges by a key instead of
# replacing (the patchMergeKey of the core types FlowRunner touches).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort",
    "imagePullSecrets": "name", "conditions": "type", "tolerations": "key",
    "hostAliases": "ip", "volumeDevices": "devicePath", "ownerReferences": "uid",
}


def strategic_merge_patch(target, patch, field_name: str | None = None):
    """Merge patch, except that known lists of objects merge by their key
    (``$patch: delete`` removes an element, ``$patch: replace`` replaces)."""
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        if directive == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if directive == "delete":
            return None
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                result.pop(key, None)
                continue
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        return result
    if (isinstance(patch, list) and field_name in MERGE_KEYS and isinstance(target, list)
            and all(isinstance(x, dict) for x in patch)
            and all(isinstance(x, dict) for x in target)):
        mk = MERGE_KEYS[field_name]
        if any(x.get("$patch") == "replace" for x in patch):
            return [copy.deepcopy(x) for x in patch if x.get("$patch") != "replace"]
        result = [copy.deepcopy(x) for x in target]
        for item in patch:
            key = item.get(mk)
            idx = next((i for i, x in enumerate(result) if x.get(mk) == key), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    result.pop(idx)
                continue
            if idx is None:
                result.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
            else:
                result[idx] = strategic_merge_patch(result[idx], item)
        return result
    return copy.deepcopy(patch)


class _JsonPatchError(Exception):
    pass


def _decode_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _JsonPatchError(f"invalid JSON pointer {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _walk(doc, tokens):
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise _JsonPatchError(f"path segment {t!r} not found")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, allow_end=False)]
        else:
            raise _JsonPatchError(f"cannot descend into a scalar at {t!r}")
    return cur


def _index(lst, token, allow_end):
    if token == "-" and allow_end:
        return len(lst)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _JsonPatchError(f"invalid array index {token!r}")
    i = int(token)
    if i > len(lst) or (i == len(lst) and not allow_end):
        raise _JsonPatchError(f"array index {i} out of bounds")
    return i


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise _JsonPatchError("cannot add to a scalar")
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise _JsonPatchError("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _JsonPatchError(f"unable to remove nonexistent key: {last}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise _JsonPatchError("cannot remove from a scalar")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch must be an array of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation {op!r}")
        try:
            name, tokens = op["op"], _decode_pointer(op["path"])
            if name == "add":
                doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
            elif name == "remove":
                _remove(doc, tokens)
            elif name == "replace":
                _walk(doc, tokens)  # must exist
                if tokens:
                    _remove(doc, tokens)
                doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
            elif name in ("move", "copy"):
                src = _decode_pointer(op.get("from", ""))
                value = copy.deepcopy(_walk(doc, src))
                if name == "move":
                    _remove(doc, src)
                doc = _add(doc, tokens, value)
            elif name == "test":
                if _walk(doc, tokens) != op.get("value"):
                    raise _JsonPatchError(f"testing value {op['path']} failed")
            else:
                raise bad_request(f"unexpected json patch operation {name!r}")
        except _JsonPatchError as e:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {e}")
    return doc


def apply_patch(content_type: str, target: dict, patch):
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct == MERGE:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        return merge_patch(target, patch)
    if ct == STRATEGIC:
        if not isinstance(patch, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        return strategic_merge_patch(target, patch)
    if ct == JSON_PATCH:
        return json_patch(target, patch)
    if ct == APPLY:
        raise ApiError(415, "UnsupportedMediaType",
                       "server-side apply (application/apply-patch+yaml) is not supported by this test double")
    raise ApiError(415, "UnsupportedMediaType",
                   f"the body of the request was in an unknown format - accepted media types include: "
                   f"{JSON_PATCH}, {MERGE}, {STRATEGIC}")
