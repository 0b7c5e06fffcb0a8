"""Byte-compiles the Python files under a directory the engine owns (the
bundled package, a stored driver version's copy), into the usual
__pycache__ folders, so hosts that start with writing disabled load bytecode
instead of compiling every module again. Never used on an author's own
directory. Exit status 0 when every file compiled.

The engine runs it when the sources changed (BytecodeCache's fingerprint),
so every file is compiled again (``force``): compileall alone compares only
the modification second, and would keep the bytecode of a file replaced
within the same second, which the import system (which also compares the
size) would then ignore at every start."""
import compileall
import sys

sys.exit(0 if compileall.compile_dir(sys.argv[1], quiet=2, workers=1, force=True) else 1)
