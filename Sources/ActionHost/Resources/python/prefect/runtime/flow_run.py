"""prefect.runtime.flow_run: id, name and parameters of the running action."""
from _flowrunner import runtime as _runtime


def __getattr__(name):
    if name in ("id", "name", "parameters"):
        return _runtime.flow_run.get(name)
    raise AttributeError("prefect.runtime.flow_run provides id, name and parameters, not %r" % name)
