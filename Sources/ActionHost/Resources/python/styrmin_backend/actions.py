"""The primitives driver actions call, and the GlobalContext they receive.

Every primitive is executed by the FlowRunner engine (never in this
process): the call becomes a checkpointed step of the run. Both calling
styles are accepted: a ``context=`` keyword, or a leading ``deployment_id``
string; with neither, the run's own deployment is meant.

Primitives are async and also sync-compatible, as Prefect's calls are: in
async code (``async def``) a call returns a coroutine to ``await``; called
from synchronous code (a ``def`` flow or task, a thread) it runs to its end
and returns its value. A coroutine that is never awaited fails the action,
naming the call and its line.
"""
import sys

from _flowrunner import bridge as _bridge
from _flowrunner import runtime as _runtime

__all__ = [
    "GlobalContext", "ActionError", "PrimitiveError", "CommandFailed", "UnknownComponent", "VersionNotSupported",
    "stop_components", "start_components", "stop_component", "start_component", "restart_components",
    "wait_for_components", "execute_commands", "upgrade_deployment_version", "get_component_images",
    "get_deployment_version",
]


class _Node:
    """Read-only view of nested data: attribute and item access."""

    __slots__ = ("_data",)

    def __init__(self, data):
        object.__setattr__(self, "_data", data)

    @staticmethod
    def _wrap(value):
        if isinstance(value, dict):
            return _Node(value)
        if isinstance(value, list):
            return [_Node._wrap(item) for item in value]
        return value

    def __getattr__(self, name):
        data = object.__getattribute__(self, "_data")
        if name in data:
            return _Node._wrap(data[name])
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError("context has no field %r (fields: %s)" % (name, ", ".join(sorted(data)) or "none"))

    def __setattr__(self, name, value):
        raise AttributeError("the context is read-only")

    def __getitem__(self, key):
        data = object.__getattribute__(self, "_data")
        try:
            return _Node._wrap(data[key])
        except KeyError:
            raise KeyError("%r (known: %s)" % (key, ", ".join(sorted(map(str, data))) or "none")) from None

    def get(self, key, default=None):
        data = object.__getattribute__(self, "_data")
        return _Node._wrap(data[key]) if key in data else default

    def __contains__(self, key):
        return key in object.__getattribute__(self, "_data")

    def __iter__(self):
        return iter(object.__getattribute__(self, "_data"))

    def __len__(self):
        return len(object.__getattribute__(self, "_data"))

    def keys(self):
        return object.__getattribute__(self, "_data").keys()

    def values(self):
        return [_Node._wrap(v) for v in object.__getattribute__(self, "_data").values()]

    def items(self):
        return [(k, _Node._wrap(v)) for k, v in object.__getattribute__(self, "_data").items()]

    def model_dump(self, **_options):
        import copy
        return copy.deepcopy(object.__getattribute__(self, "_data"))

    def dict(self, **_options):
        return self.model_dump()

    def __eq__(self, other):
        if isinstance(other, _Node):
            return self.model_dump() == other.model_dump()
        if isinstance(other, dict):
            return self.model_dump() == other
        return NotImplemented

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, object.__getattribute__(self, "_data"))


class GlobalContext(_Node):
    """The frozen context of a run: cluster, environment, deployment,
    instance {config, namespace, release}, app {name, version, chart},
    components, parameters, services {name: {primary_fqdn, port, ...}}.
    Attribute access (``context.app.version``), item access
    (``context.services['my-app']``), ``model_dump()`` and ``dict()``."""

    __slots__ = ()


class ActionError(Exception):
    """Base of the errors primitives raise."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class PrimitiveError(ActionError):
    """A primitive refused its arguments or failed."""


class UnknownComponent(PrimitiveError):
    """A component name that the driver does not declare."""


class VersionNotSupported(PrimitiveError):
    """A version outside the driver's supported_versions."""


class CommandFailed(ActionError):
    """A command of execute_commands exited non-zero. ``exit_code``,
    ``command`` and ``output`` (the tail) say which and why."""

    def __init__(self, message, details=None):
        super().__init__(message, details)
        self.exit_code = self.details.get("exit_code")
        self.command = self.details.get("command")
        self.output = self.details.get("output", "")


_ERRORS = {cls.__name__: cls for cls in (ActionError, PrimitiveError, CommandFailed, UnknownComponent, VersionNotSupported)}

# Positional parameter names of each primitive, after the optional leading deployment_id.
_POSITIONAL = {
    "stop_components": ("components",),
    "start_components": ("components",),
    "restart_components": ("components",),
    "stop_component": ("component",),
    "start_component": ("component",),
    "wait_for_components": ("components", "timeout"),
    "execute_commands": ("commands",),
    "upgrade_deployment_version": ("target_version",),
    "get_component_images": ("component",),
    "get_deployment_version": (),
}


def _deployment_of(context, deployment_id):
    if deployment_id is not None:
        return str(deployment_id)
    if context is not None:
        deployment = context.get("deployment") if isinstance(context, _Node) else (context or {}).get("deployment")
        if deployment is not None:
            identifier = deployment.get("id") if hasattr(deployment, "get") else None
            return None if identifier is None else str(identifier)
    return None


def _arguments(name, args, kwargs):
    names = _POSITIONAL[name]
    args = list(args)
    deployment_id = kwargs.pop("deployment_id", None)
    context = kwargs.pop("context", None)
    # Styrmin's hooks page style: a leading deployment_id before the usual arguments.
    if args and isinstance(args[0], str) and len(args) > len(names):
        deployment_id = args.pop(0)
    if len(args) > len(names):
        raise TypeError("%s() takes %d positional argument%s (%s) but %d were given" % (
            name, len(names), "" if len(names) == 1 else "s", ", ".join(names) or "none", len(args)))
    arguments = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in arguments:
            raise TypeError("%s() got multiple values for argument %r" % (name, key))
        arguments[key] = value
    return _deployment_of(context, deployment_id), arguments


def _raise_for(reply):
    error = reply.get("error") or {}
    cls = _ERRORS.get(error.get("type"), PrimitiveError)
    raise cls(error.get("message") or "primitive failed", error.get("details"))


async def _call(name, args, kwargs):
    deployment, arguments = _arguments(name, args, kwargs)
    reply = await _bridge.current().call({"type": "call", "kind": "primitive", "name": name,
                                          "deployment": deployment, "args": arguments})
    if not reply.get("ok"):
        _raise_for(reply)
    return reply.get("value")


def _call_now(name, args, kwargs):
    deployment, arguments = _arguments(name, args, kwargs)
    reply = _bridge.current().call_sync({"type": "call", "kind": "primitive", "name": name,
                                         "deployment": deployment, "args": arguments})
    if not reply.get("ok"):
        _raise_for(reply)
    return reply.get("value")


def _primitive(name, doc):
    """A primitive: a coroutine for async callers, its value for synchronous ones."""
    def primitive(*args, **kwargs):
        caller = sys._getframe(1)
        if _bridge.bridge is None or _runtime.caller_is_async(caller):
            return _runtime.track(_call(name, args, kwargs), name + "()", caller)
        return _call_now(name, args, kwargs)

    primitive.__name__ = primitive.__qualname__ = name
    primitive.__doc__ = doc
    return primitive


stop_components = _primitive("stop_components", """Scale each component's workloads to 0, remembering the replica count;
    waits until no pod is left. Already stopped is a no-op.""")

start_components = _primitive("start_components", """Restore each component's remembered replica count; waits until ready.
    Already running is a no-op.""")

stop_component = _primitive("stop_component", """``stop_components`` for one component.""")

start_component = _primitive("start_component", """``start_components`` for one component.""")

restart_components = _primitive("restart_components", """Restart the components' pods and wait until they are ready.""")

wait_for_components = _primitive("wait_for_components", """Wait until the components are ready (``timeout`` in seconds).""")

execute_commands = _primitive("execute_commands", """Run commands in order in one job (each via /bin/sh -c), stopping at the
    first failure. Returns exit codes and output; a non-zero exit raises
    CommandFailed with the output tail. Options: image, env_from_component,
    labels_from_component, timeout.""")

upgrade_deployment_version = _primitive("upgrade_deployment_version", """Set the deployment's app version (refusing one outside
    supported_versions) and wait for the rollout; same version is a no-op.""")

get_component_images = _primitive("get_component_images", """The images (``repo:tag``) of the component's pods.""")

get_deployment_version = _primitive("get_deployment_version", """The deployment's current app version.""")
