"""Static checks of a driver's Python files, run by `drivers validate` and
`drivers load`: every file must compile, and every name imported from the
modules FlowRunner provides (styrmin_backend.actions, prefect) must exist.
Nothing of the driver is executed.

Input (stdin): {"directory": DIR, "files": [relative paths], "display": PREFIX}.
Output (stdout): a JSON list of {"file", "line", "column", "message"}."""
import ast
import difflib
import importlib
import json
import os
import sys

PROVIDED = ("styrmin_backend", "styrmin_backend.actions", "prefect", "prefect.logging",
            "prefect.runtime", "prefect.runtime.flow_run")


def provided_names(module_name, cache={}):
    if module_name not in cache:
        try:
            module = importlib.import_module(module_name)
            cache[module_name] = {name for name in dir(module) if not name.startswith("_")}
        except Exception:  # noqa: BLE001 - a shim that fails to import is reported by the run itself
            cache[module_name] = None
    return cache[module_name]


def check_file(path, display):
    findings = []
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as error:
        return [{"file": display, "line": 0, "column": 0, "message": "cannot read: %s" % error.strerror}]
    try:
        tree = compile(source, display, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        compile(tree, display, "exec", dont_inherit=True)
    except SyntaxError as error:
        return [{"file": display, "line": error.lineno or 0, "column": error.offset or 0,
                 "message": "Python syntax error: %s" % error.msg}]
    except (ValueError, UnicodeDecodeError) as error:
        return [{"file": display, "line": 0, "column": 0, "message": "cannot compile: %s" % error}]
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or node.module not in PROVIDED:
            continue
        names = provided_names(node.module)
        if names is None:
            continue
        for alias in node.names:
            if alias.name == "*" or alias.name in names:
                continue
            if node.module.startswith("prefect"):
                submodule = node.module + "." + alias.name
                if submodule in PROVIDED:
                    continue
            close = difflib.get_close_matches(alias.name, sorted(names), n=1)
            hint = " (did you mean %s?)" % close[0] if close else ""
            supported = "" if close else "; it provides: " + ", ".join(sorted(names))
            findings.append({"file": display, "line": node.lineno, "column": node.col_offset + 1,
                             "message": "%s does not provide %r%s%s" % (node.module, alias.name, hint, supported)})
    return findings


def main():
    request = json.load(sys.stdin)
    directory = request["directory"]
    prefix = request.get("display", "")
    findings = []
    for relative in request["files"]:
        findings.extend(check_file(os.path.join(directory, relative), prefix + relative))
    json.dump(findings, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
