"""FlowRunner's Python action host. Started by the engine; do not run by hand.

The engine talks to this process in JSON Lines over the process's original
stdin/stdout, which the host claims for itself before any action code runs
(see _flowrunner/bridge.py)."""
import sys

if sys.version_info < (3, 9):
    sys.stderr.write("flowrunner: Python %d.%d is too old; the action host needs Python 3.9 or newer\n" % sys.version_info[:2])
    sys.exit(3)

from _flowrunner.host import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
