"""Renders a driver's values.j2.yml with Jinja2 (the ``jinja2`` package,
the engine Styrmin drivers are written for), as the guide's "Creating a
Driver" Step 5 has it: the run's GlobalContext as the template's names, and
the guide's filters over ``components``:

- ``component_env_vars(name)``: the component's env vars, ``[{"name", "value"}]``;
- ``component_command(name)`` / ``component_args(name)``: its container
  override lists, ``[]`` when unset;
- ``tojson`` (Jinja2's own).

An undefined name is an error (StrictUndefined); the environment is Jinja2's
sandbox, so a template cannot reach Python's internals (the engine renders
outside the action isolation). Input (stdin):
``{"template": TEXT, "file": NAME, "context": {...}, "cache": DIR?}`` (DIR:
the engine's directory for compiled templates). Output (stdout):
``{"rendered": TEXT}`` or ``{"error": MESSAGE, "line": N or null,
"missing_jinja2": BOOL}``.

With ``--serve`` it stays up for the engine's server: one request per line
on stdin, one answer per line on stdout, until stdin ends (the engine
exited). Importing Jinja2 costs tens of milliseconds, rendering a template
about one; a server renders once per hook run. Each request gets its own
processor-time budget; a request that needed more memory than the limit
is answered, then the worker exits (the engine starts another).
"""
import json
import sys


def _component(components, name, what):
    if not isinstance(components, dict) or name not in components:
        known = ", ".join(sorted(components)) if isinstance(components, dict) else "none"
        raise ValueError(f"{what}({name!r}): no component {name!r} (components: {known})")
    return components[name]


def component_env_vars(components, name):
    """The component's env vars as Kubernetes takes them: ``{"name", "value"}``,
    or ``{"name", "valueFrom"}`` for a var declared with a ``valueFrom`` block."""
    shaped = []
    for variable in _component(components, name, "component_env_vars").get("env_vars") or []:
        value = variable.get("value") if isinstance(variable, dict) else None
        if isinstance(value, dict) and set(value) == {"valueFrom"}:
            shaped.append({"name": variable.get("name"), "valueFrom": value["valueFrom"]})
        else:
            shaped.append(variable)
    return shaped


def component_command(components, name):
    return list(_component(components, name, "component_command").get("command") or [])


def component_args(components, name):
    return list(_component(components, name, "component_args").get("args") or [])


def _template_line(traceback, file):
    """The template line the error was raised at (Jinja2 rewrites tracebacks to template lines)."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == file:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


# Templates compiled by this process (a server renders the same few again and again).
_COMPILED = {}


def render(request):
    from . import sitepaths
    sitepaths.install()  # the host runs as python -S: site-packages (where jinja2 lives) on the path
    try:
        import jinja2
        import jinja2.sandbox
    except ImportError:
        return {"error": "the jinja2 package is not installed for this Python; install it with: python3 -m pip install jinja2 "
                         "(Debian: apt-get install python3-jinja2)", "line": None, "missing_jinja2": True}
    file = request.get("file") or "values.j2.yml"
    cache = None
    if request.get("cache"):
        # Compiling a template costs far more than rendering it (a 1,000-line
        # one: ~200 ms against ~3 ms); the engine's own cache keeps the code,
        # one entry per source (every driver's template has the same name).
        import os

        class BySource(jinja2.FileSystemBytecodeCache):
            def get_bucket(self, environment, name, filename, source):
                return super().get_bucket(environment, name + "#" + self.get_source_checksum(source), filename, source)

        try:
            os.makedirs(request["cache"], mode=0o700, exist_ok=True)
            cache = BySource(request["cache"])
        except OSError:
            cache = None  # only an optimisation
    # Sandboxed: the engine renders a driver's template outside the action
    # isolation, so the template must not reach Python's internals.
    environment = jinja2.sandbox.SandboxedEnvironment(
        # The template's file name is its code's file name, so errors map back to its lines.
        loader=jinja2.FunctionLoader(lambda name: (request["template"], file, lambda: True) if name == file else None),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=cache,
    )
    environment.filters.update(
        component_env_vars=component_env_vars, component_command=component_command, component_args=component_args,
    )
    try:
        key = (file, request["template"])
        template = _COMPILED.get(key)
        if template is None:
            template = environment.get_template(file)
            if len(_COMPILED) >= 32:
                _COMPILED.clear()
            _COMPILED[key] = template
    except jinja2.TemplateSyntaxError as error:
        return {"error": f"template syntax: {error.message}", "line": error.lineno, "missing_jinja2": False}
    except RecursionError:
        return {"error": "the template nests too deeply to compile", "line": None, "missing_jinja2": False}
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever stops compiling is the template's fault, said in one line
        return {"error": f"the template cannot be compiled: {type(error).__name__}: {error}", "line": None, "missing_jinja2": False}
    try:
        rendered = template.render(**request.get("context", {}))
        if len(rendered) > MAX_OUTPUT:
            return {"error": f"the rendered values are larger than {MAX_OUTPUT >> 20} MiB", "line": None, "missing_jinja2": False}
        return {"rendered": rendered}
    except jinja2.UndefinedError as error:
        return {"error": f"undefined: {error.message}", "line": _template_line(error.__traceback__, file), "missing_jinja2": False}
    except jinja2.sandbox.SecurityError as error:
        return {"error": f"not allowed in a values template: {error}", "line": _template_line(error.__traceback__, file), "missing_jinja2": False}
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - a template's own failure, reported with its line
        return {"error": f"{type(error).__name__}: {error}", "line": _template_line(error.__traceback__, file), "missing_jinja2": False}


# A template that loops or grows without end is stopped by the kernel: the
# engine reports a renderer killed by these limits as the template's fault.
CPU_SECONDS = 5
MEMORY_BYTES = 1 << 30
# Helm values are kilobytes; a HelmRelease (an etcd object) holds at most about 1.5 MiB.
MAX_OUTPUT = 4 << 20


def answer(request):
    """The answer to one request, never an exception."""
    try:
        return render(request)
    except MemoryError:
        return {"error": f"the template needs more than {MEMORY_BYTES >> 20} MiB to render", "line": None, "missing_jinja2": False,
                "exhausted": True}
    except RecursionError:
        return {"error": "the template nests too deeply to render", "line": None, "missing_jinja2": False}
    except Exception as error:  # noqa: BLE001 - one line, never a traceback with the server's paths
        return {"error": f"the template cannot be rendered: {type(error).__name__}: {error}", "line": None, "missing_jinja2": False}


def _preload():
    """Imports Jinja2 before the first request (the most of a render's time),
    while the engine is still preparing it; a missing package is reported by
    the request."""
    from . import sitepaths
    sitepaths.install()
    try:
        import jinja2.sandbox  # noqa: F401
    except Exception:  # noqa: BLE001 - a missing or broken Jinja2 is answered by the request, as by a one-off render
        pass


def serve():
    """Answers requests line by line; the kernel's processor-time limit is
    moved before each, so every request has CPU_SECONDS of its own."""
    import _signal  # the C module: the public one imports enum
    import resource
    # The engine's helper ends with the engine (its stdin closes) or by its
    # SIGKILL; a terminal's Ctrl-C is the engine's to answer (a run's cancel).
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    _preload()
    for line in sys.stdin.buffer:
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(used.ru_utime + used.ru_stime) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (spent + CPU_SECONDS, spent + CPU_SECONDS + 1))
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        reply = answer(request) if isinstance(request, dict) else {"error": "the request is not a JSON object", "line": None,
                                                                   "missing_jinja2": False}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if reply.get("exhausted"):
            return  # memory may be fragmented or held: the engine starts a fresh worker


def main():
    import resource
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    sys.stdout.write(json.dumps(answer(json.loads(sys.stdin.buffer.read()))))


if __name__ == "__main__":
    main()
