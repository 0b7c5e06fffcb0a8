"""Label selectors (string and LabelSelector forms) and field selectors."""

from __future__ import annotations

import re

from .errors import bad_request

_KEY = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(f"^{_KEY}$")
_VALUE_RE = re.compile(f"^{_VALUE}$")


class Requirement:
    __slots__ = ("key", "op", "values")

    def __init__(self, key: str, op: str, values: tuple[str, ...] = ()):
        self.key, self.op, self.values = key, op, values

    def matches(self, labels: dict) -> bool:
        has = self.key in labels
        val = labels.get(self.key)
        if self.op == "exists":
            return has
        if self.op == "!exists":
            return not has
        if self.op in ("=", "==", "in"):
            return has and val in self.values
        if self.op in ("!=", "notin"):
            return not has or val not in self.values
        if self.op in (">", "<"):
            if not has:
                return False
            try:
                left, right = int(val), int(self.values[0])
            except ValueError:
                return False
            return left > right if self.op == ">" else left < right
        return False

    def __repr__(self):
        return f"Requirement({self.key!r}, {self.op!r}, {self.values!r})"


class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    def __init__(self, requirements: list[Requirement] | None = None):
        self.requirements = requirements or []

    def matches(self, labels: dict | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    @classmethod
    def parse(cls, text: str | None) -> "LabelSelector":
        if text is None or not text.strip():
            return cls()
        reqs = []
        for part in _split_top_level(text):
            reqs.append(_parse_requirement(part.strip(), text))
        return cls(reqs)

    @classmethod
    def from_object(cls, sel: dict | None) -> "LabelSelector":
        """A meta/v1 LabelSelector ({matchLabels, matchExpressions})."""
        if not sel:
            return cls()
        reqs = [Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
        ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
        for e in sel.get("matchExpressions") or []:
            op = ops.get(e.get("operator"))
            if op is None:
                raise bad_request(f"invalid label selector operator {e.get('operator')!r}")
            reqs.append(Requirement(e.get("key", ""), op, tuple(e.get("values") or ())))
        return cls(reqs)

    def to_string(self) -> str:
        out = []
        for r in self.requirements:
            if r.op == "exists":
                out.append(r.key)
            elif r.op == "!exists":
                out.append("!" + r.key)
            elif r.op in ("in", "notin"):
                out.append(f"{r.key} {r.op} ({','.join(sorted(r.values))})")
            else:
                out.append(f"{r.key}{r.op}{r.values[0]}")
        return ",".join(out)


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise bad_request(f"unable to parse requirement: unbalanced ')' in {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise bad_request(f"unable to parse requirement: unbalanced '(' in {text!r}")
    parts.append("".join(cur))
    return parts


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<vals>[^()]*)\)$")
_BIN_RE = re.compile(r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|!=|=|>|<)\s*(?P<val>[^=!<>\s]*)$")


def _check_key(key: str, whole: str):
    if not _KEY_RE.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise bad_request(f"unable to parse requirement: invalid label key {key!r} in {whole!r}")


def _check_value(val: str, whole: str):
    if len(val) > 63 or not _VALUE_RE.match(val):
        raise bad_request(f"unable to parse requirement: invalid label value {val!r} in {whole!r}")


def _parse_requirement(part: str, whole: str) -> Requirement:
    if not part:
        raise bad_request(f"unable to parse requirement: found '', expected: identifier in {whole!r}")
    m = _SET_RE.match(part)
    if m:
        key = m.group("key")
        _check_key(key, whole)
        vals = tuple(v.strip() for v in m.group("vals").split(",") if v.strip())
        if not vals:
            raise bad_request(f"unable to parse requirement: {part!r}: values must be non-empty")
        for v in vals:
            _check_value(v, whole)
        return Requirement(key, m.group("op"), vals)
    if part.startswith("!"):
        key = part[1:].strip()
        _check_key(key, whole)
        return Requirement(key, "!exists")
    m = _BIN_RE.match(part)
    if m:
        key, op, val = m.group("key"), m.group("op"), m.group("val")
        _check_key(key, whole)
        if op in (">", "<"):
            if not re.match(r"^-?\d+$", val):
                raise bad_request(f"unable to parse requirement: {part!r}: value must be an integer")
        else:
            _check_value(val, whole)
        return Requirement(key, op, (val,))
    _check_key(part, whole)
    return Requirement(part, "exists")


# ---------------------------------------------------------------- fields

# Field labels each resource supports beyond metadata.name / metadata.namespace.
SUPPORTED_FIELDS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "status.phase", "status.podIP"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion",
                     "involvedObject.resourceVersion", "involvedObject.fieldPath",
                     "reason", "reportingComponent", "source", "type"},
    ("", "namespaces"): {"status.phase"},
    ("", "secrets"): {"type"},
    ("batch", "jobs"): {"status.successful"},
}


class FieldSelector:
    def __init__(self, terms: list[tuple[str, str, str]] | None = None):
        self.terms = terms or []

    @classmethod
    def parse(cls, text: str | None, resource_key: tuple[str, str]) -> "FieldSelector":
        if not text or not text.strip():
            return cls()
        allowed = {"metadata.name", "metadata.namespace"} | SUPPORTED_FIELDS.get(resource_key, set())
        terms = []
        for part in text.split(","):
            part = part.strip()
            m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
            if not m:
                raise bad_request(f"invalid selector: {text!r}; can't understand {part!r}")
            fld, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
            if fld not in allowed:
                raise bad_request(f'field label not supported: {fld}')
            terms.append((fld, "!=" if op == "!=" else "=", val))
        return cls(terms)

    def matches(self, obj: dict) -> bool:
        for fld, op, val in self.terms:
            cur = obj
            for p in fld.split("."):
                cur = cur.get(p) if isinstance(cur, dict) else None
            s = "" if cur is None else (str(cur).lower() if isinstance(cur, bool) else str(cur))
            if (s == val) != (op == "="):
                return False
        return True

    def single_name(self) -> str | None:
        for fld, op, val in self.terms:
            if fld == "metadata.name" and op == "=":
                return val
        return None
