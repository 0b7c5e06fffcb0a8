"""site-packages on sys.path without the cost of the site module.

Adds the interpreter's (or its virtualenv's) site-packages and the user
site-packages, and the directory lines of their .pth files. The ``import``
lines of .pth files are not executed; set FLOWRUNNER_PYTHON_SITE=full to run
the complete site module instead."""
import os
import sys


def _site_dirs():
    version = "python%d.%d" % sys.version_info[:2]
    prefixes = []
    # A virtualenv: pyvenv.cfg beside the executable or one level up.
    executable_dir = os.path.dirname(os.path.abspath(sys.executable))
    for candidate in (executable_dir, os.path.dirname(executable_dir)):
        if os.path.isfile(os.path.join(candidate, "pyvenv.cfg")):
            prefixes.append(candidate)
            break
    prefixes.append(sys.prefix)
    if sys.exec_prefix != sys.prefix:
        prefixes.append(sys.exec_prefix)
    directories = []
    for prefix in prefixes:
        for lib in ("lib", "lib64"):
            directories.append(os.path.join(prefix, lib, version, "site-packages"))
        directories.append(os.path.join(prefix, "lib", "python3", "dist-packages"))
        directories.append(os.path.join(prefix, "local", "lib", version, "dist-packages"))
    home = os.environ.get("HOME")
    if home and not sys.flags.no_user_site:
        directories.insert(0, os.path.join(home, ".local", "lib", version, "site-packages"))
    return directories


def install():
    if os.environ.get("FLOWRUNNER_PYTHON_SITE") == "full":
        import site
        site.main()
        return
    seen = set(sys.path)
    for directory in _site_dirs():
        if directory in seen or not os.path.isdir(directory):
            continue
        seen.add(directory)
        sys.path.append(directory)
        try:
            names = sorted(name for name in os.listdir(directory) if name.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(directory, name), encoding="utf-8") as handle:
                    lines = handle.read().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                line = line.strip()
                if not line or line.startswith("#") or line.startswith("import ") or line.startswith("import\t"):
                    continue
                path = os.path.join(directory, line)
                if path not in seen and os.path.isdir(path):
                    seen.add(path)
                    sys.path.append(path)
