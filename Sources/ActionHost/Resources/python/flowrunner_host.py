"""FlowRunner's Python action host. Started by the engine; do not run by hand.

The engine starts it as ``python3 -S flowrunner_host.py``: without the site
module, which on many machines costs more than the rest of start-up (it runs
every .pth file of site-packages). _flowrunner.sitepaths puts site-packages
back on sys.path cheaply; FLOWRUNNER_PYTHON_SITE=full runs the full site
module instead. The engine talks to this process in JSON Lines over the
process's original stdin/stdout (see _flowrunner/bridge.py)."""
import sys

if sys.version_info < (3, 9):
    sys.stderr.write("flowrunner: Python %d.%d is too old; the action host needs Python 3.9 or newer\n" % sys.version_info[:2])
    sys.exit(3)

from _flowrunner import sitepaths  # noqa: E402

sitepaths.install()

from _flowrunner.host import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
