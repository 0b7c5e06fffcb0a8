"""The resource types the double serves, and how paths map onto them.

Objects are stored per (group, resource); every served version of a group
shares that storage, the apiVersion of each answer being the one asked for
(as the API server converts between versions of one resource).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    group: str                      # "" for the core group
    resource: str                   # plural, e.g. "deployments"
    kind: str
    versions: tuple[str, ...]       # served versions, the first is the storage version
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    has_generation: bool = False    # metadata.generation bumped on spec change
    custom: bool = False            # a CRD: DELETE answers the object
    short_names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.resource)

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``, as messages name a resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def api_version(self, version: str | None = None) -> str:
        v = version or self.versions[0]
        return f"{self.group}/{v}" if self.group else v

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def returns_deleted_object(self) -> bool:
        # Pods and custom resources answer a DELETE with the object; the other
        # built-in types with a Status of status Success.
        return self.custom or self.key in {("", "pods"), ("", "namespaces")}


_TYPES = [
    ResourceType("", "namespaces", "Namespace", ("v1",), namespaced=False,
                 subresources=("status",)),
    ResourceType("", "pods", "Pod", ("v1",), subresources=("status", "log")),
    ResourceType("", "events", "Event", ("v1",)),
    ResourceType("", "configmaps", "ConfigMap", ("v1",)),
    ResourceType("", "secrets", "Secret", ("v1",)),
    ResourceType("", "services", "Service", ("v1",), subresources=("status",)),
    ResourceType("", "persistentvolumeclaims", "PersistentVolumeClaim", ("v1",),
                 subresources=("status",)),
    ResourceType("", "serviceaccounts", "ServiceAccount", ("v1",)),
    ResourceType("apps", "deployments", "Deployment", ("v1",),
                 subresources=("status", "scale"), has_generation=True),
    ResourceType("apps", "statefulsets", "StatefulSet", ("v1",),
                 subresources=("status", "scale"), has_generation=True),
    ResourceType("batch", "jobs", "Job", ("v1",), subresources=("status",), has_generation=True),
    ResourceType("helm.toolkit.fluxcd.io", "helmreleases", "HelmRelease", ("v2", "v2beta2"),
                 subresources=("status",), has_generation=True, custom=True),
    ResourceType("source.toolkit.fluxcd.io", "helmrepositories", "HelmRepository",
                 ("v1", "v1beta2"), subresources=("status",), has_generation=True, custom=True),
    ResourceType("source.toolkit.fluxcd.io", "ocirepositories", "OCIRepository",
                 ("v1", "v1beta2"), subresources=("status",), has_generation=True, custom=True),
    ResourceType("source.toolkit.fluxcd.io", "helmcharts", "HelmChart",
                 ("v1", "v1beta2"), subresources=("status",), has_generation=True, custom=True),
    ResourceType("velero.io", "backups", "Backup", ("v1",), subresources=("status",),
                 has_generation=True, custom=True),
    ResourceType("velero.io", "restores", "Restore", ("v1",), subresources=("status",),
                 has_generation=True, custom=True),
    ResourceType("velero.io", "deletebackuprequests", "DeleteBackupRequest", ("v1",),
                 subresources=("status",), has_generation=True, custom=True),
]


class Registry:
    def __init__(self, types=None):
        self.types = list(types or _TYPES)
        self._by_path = {}
        self._by_kind = {}
        for t in self.types:
            for v in t.versions:
                self._by_path[(t.group, v, t.resource)] = t
                self._by_kind[(t.api_version(v), t.kind)] = t

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_path.get((group, version, resource))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_key(self, key: tuple[str, str]) -> ResourceType:
        for t in self.types:
            if t.key == key:
                return t
        raise KeyError(key)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for t in self.types:
            if t.group:
                vs = out.setdefault(t.group, [])
                for v in t.versions:
                    if v not in vs:
                        vs.append(v)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and version in t.versions]


REGISTRY = Registry()

# Convenience handles used by the controllers.
NAMESPACES = ("", "namespaces")
PODS = ("", "pods")
EVENTS = ("", "events")
DEPLOYMENTS = ("apps", "deployments")
STATEFULSETS = ("apps", "statefulsets")
JOBS = ("batch", "jobs")
HELMRELEASES = ("helm.toolkit.fluxcd.io", "helmreleases")
HELMREPOSITORIES = ("source.toolkit.fluxcd.io", "helmrepositories")
OCIREPOSITORIES = ("source.toolkit.fluxcd.io", "ocirepositories")
HELMCHARTS = ("source.toolkit.fluxcd.io", "helmcharts")
VELERO_BACKUPS = ("velero.io", "backups")
VELERO_RESTORES = ("velero.io", "restores")
VELERO_DELETE_REQUESTS = ("velero.io", "deletebackuprequests")
PVCS = ("", "persistentvolumeclaims")
SERVICES = ("", "services")


@dataclass
class Route:
    """A parsed API path."""
    rtype: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_api_path(path: str, registry: Registry = REGISTRY) -> Route | None:
    """Map ``/api/v1/...`` and ``/apis/G/V/...`` onto a Route; None if unknown."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 2:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 3:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = None
    # /namespaces/{ns}/{resource}... ; but /api/v1/namespaces[/{name}[/{sub}]] is the
    # namespace resource itself.
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and len(rest) == 3
                                                          and rest[2] == "status"):
        namespace, rest = rest[1], rest[2:]
    rtype = registry.lookup(group, version, rest[0])
    if rtype is None:
        return None
    if namespace is not None and not rtype.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        return None
    if sub is not None and sub not in rtype.subresources:
        return None
    return Route(rtype, version, namespace, name, sub)
