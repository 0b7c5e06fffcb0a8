"""Simulated container execution: no process is ever started on the host.

A container's ``command``/``args`` are interpreted by a tiny shell subset
(see the README): ``echo``, ``printf``, ``sleep S`` (waits S seconds times
``sleep_scale``), ``exit N``, ``true``/``:``, ``false``, ``set -e``/``-x``,
``$VAR``/``${VAR}``/``${VAR:-default}`` from the container's ``env``, and the
``;``, newline, ``&&`` and ``||`` connectors. Any other command prints
``+ <command line>`` and succeeds. Output goes to the container's log.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timezone

SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh"}


def wall_iso(nanos: bool = False) -> str:
    now = datetime.now(timezone.utc)
    if nanos:
        return now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def split_script(script: str) -> list[tuple[str, str]]:
    """Split a script into (connector, command) pairs; the connector says how
    a command relates to the previous one: ';', '&&' or '||'."""
    out: list[tuple[str, str]] = []
    cur: list[str] = []
    conn = ";"
    quote = None
    i = 0
    while i < len(script):
        ch = script[i]
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < len(script):
                cur.append(script[i + 1])
                i += 1
        elif ch in ("'", '"'):
            quote = ch
            cur.append(ch)
        elif ch == "\\" and i + 1 < len(script):
            if script[i + 1] == "\n":
                i += 2
                continue
            cur.append(ch)
            cur.append(script[i + 1])
            i += 1
        elif ch == "#" and (not cur or cur[-1].isspace()):
            while i < len(script) and script[i] != "\n":
                i += 1
            continue
        elif ch in (";", "\n") or script.startswith("&&", i) or script.startswith("||", i):
            text = "".join(cur).strip()
            if text:
                out.append((conn, text))
            if ch in (";", "\n"):
                if text or conn == ";":
                    conn = ";"
            else:
                conn = script[i:i + 2]
                i += 1
            cur = []
        else:
            cur.append(ch)
        i += 1
    text = "".join(cur).strip()
    if text:
        out.append((conn, text))
    return out


_VAR_RE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
                     r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<special>[?$#0-9]))")


def expand(text: str, env: dict, status: int) -> str:
    """Expand variables outside single quotes."""
    out, i, quote = [], 0, None
    while i < len(text):
        ch = text[i]
        if quote == "'":
            out.append(ch)
            if ch == "'":
                quote = None
            i += 1
            continue
        if ch == "'" and quote is None:
            quote = "'"
            out.append(ch)
            i += 1
            continue
        if ch == '"':
            quote = None if quote == '"' else '"'
        if ch == "$":
            m = _VAR_RE.match(text, i)
            if m:
                if m.group("special"):
                    sp = m.group("special")
                    val = str(status) if sp == "?" else ("1" if sp == "$" else "")
                else:
                    name = m.group("braced") or m.group("plain")
                    val = env.get(name)
                    if (val is None or val == "") and m.group("default") is not None:
                        val = m.group("default")
                    val = val or ""
                out.append(val)
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def argv_to_script(argv: list[str]) -> tuple[list[tuple[str, str]], bool, bool]:
    """The statements an argv runs, plus (errexit, xtrace) from ``sh -ec``."""
    if not argv:
        return [], False, False
    prog = argv[0].rsplit("/", 1)[-1]
    if prog in SHELLS and len(argv) >= 3 and argv[1].startswith("-") and "c" in argv[1]:
        flags = argv[1]
        return split_script(argv[2]), "e" in flags, "x" in flags
    if prog in SHELLS and len(argv) >= 4 and argv[1] in ("-e", "-x", "-ex", "-xe") and argv[2] == "-c":
        return split_script(argv[3]), "e" in argv[1], "x" in argv[1]
    if prog == "env" and len(argv) > 1:
        rest = [a for a in argv[1:] if "=" not in a]
        return argv_to_script(rest)
    return [(";", shlex.join(argv))], False, False


class ContainerRun:
    """One simulated container process: a program counter over statements."""

    def __init__(self, name: str, image: str, command, args, env: dict,
                 server_mode: bool, sleep_scale: float = 1.0):
        self.name = name
        self.image = image
        argv = list(command or []) + list(args or [])
        self.argv = [str(a) for a in argv]
        self.env = env
        self.server_mode = server_mode
        self.sleep_scale = sleep_scale
        self.log: list[tuple[str, str]] = []     # (RFC3339 timestamp, line)
        self.restart_count = 0
        self.reset_program()

    def reset_program(self):
        self.statements, self.errexit, self.xtrace = argv_to_script(self.argv)
        self.pc = 0
        # Nested `sh -c SCRIPT` programs: the outer (statements, pc, errexit, xtrace) to return to.
        self.frames: list[tuple] = []
        self.status = 0
        self.wake_at: float | None = None
        self.exit_code: int | None = None
        self.finished = False
        self.idle = False          # a server whose program reached its end: keeps running

    def emit(self, text: str):
        for line in str(text).split("\n"):
            self.log.append((wall_iso(True), line))

    def step(self, now: float) -> bool:
        """Run until blocked on a sleep or done; True when the log or state changed."""
        changed = False
        guard = 0
        while not self.finished and not self.idle:
            guard += 1
            if guard > 10000:
                break
            if self.wake_at is not None:
                if now < self.wake_at:
                    break
                self.wake_at = None
            if self.pc >= len(self.statements) and self.frames:
                self._return(self.status)
                changed = True
                continue
            if self.pc >= len(self.statements):
                if self.server_mode and self.status == 0:
                    self.idle = True
                else:
                    self._finish(self.status)
                changed = True
                break
            conn, text = self.statements[self.pc]
            self.pc += 1
            if conn == "&&" and self.status != 0:
                continue
            if conn == "||" and self.status == 0:
                continue
            before = len(self.log)
            self._execute(text, now)
            changed = changed or len(self.log) != before
            if self.finished:
                changed = True
                break
            nxt = self.statements[self.pc][0] if self.pc < len(self.statements) else ";"
            if self.errexit and self.status != 0 and nxt == ";" and conn == ";":
                if self.frames:
                    self._return(self.status)
                else:
                    self._finish(self.status)
                changed = True
        return changed

    def _return(self, code: int):
        """Ends a nested `sh -c` program: the outer one goes on with its status."""
        self.statements, self.pc, self.errexit, self.xtrace = self.frames.pop()
        self.status = int(code) & 0xFF if code >= 0 else 1

    def _finish(self, code: int):
        self.finished = True
        self.exit_code = int(code) & 0xFF if code >= 0 else 1

    def _execute(self, text: str, now: float):
        expanded = expand(text, self.env, self.status)
        try:
            words = shlex.split(expanded)
        except ValueError:
            words = expanded.split()
        suppress = False
        clean = []
        skip_next = False
        for w in words:
            if skip_next:
                skip_next = False
                suppress = suppress or w != "&2"
                continue
            if w in (">", ">>", "1>", "2>"):
                skip_next = True
                continue
            if re.match(r"^[12]?>&[12]$", w):
                continue
            if re.match(r"^[12]?>>?\S+$", w):
                if not w.startswith("2"):
                    suppress = True
                continue
            clean.append(w)
        words = clean
        if self.xtrace:
            self.emit("+ " + " ".join(words))
        if not words:
            self.status = 0
            return
        cmd, args = words[0].rsplit("/", 1)[-1], words[1:]
        if cmd == "echo":
            if args and args[0] in ("-n", "-e", "-ne", "-en"):
                args = args[1:]
            if not suppress:
                self.emit(" ".join(args))
            self.status = 0
        elif cmd == "printf":
            if args and not suppress:
                fmt, rest = args[0], args[1:]
                try:
                    s = fmt.replace("%s", "{}").replace("%d", "{}").format(*rest)
                except (IndexError, ValueError):
                    s = fmt
                s = s.replace("\\n", "\n").replace("\\t", "\t")
                for line in s.rstrip("\n").split("\n"):
                    self.emit(line)
            self.status = 0
        elif cmd == "sleep":
            secs = 0.0
            for a in args or ["0"]:
                m = re.match(r"^(\d+(?:\.\d+)?)([smhd]?)$", a)
                if m:
                    secs += float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
            self.wake_at = now + secs * self.sleep_scale
            self.status = 0
        elif cmd == "exit":
            code = self.status
            if args:
                try:
                    code = int(args[0])
                except ValueError:
                    code = 2
            if self.frames:
                self._return(code)
            else:
                self._finish(code)
        elif cmd in SHELLS and len(args) >= 2 and args[0].startswith("-") and "c" in args[0]:
            # `sh -c SCRIPT`: a program of its own, whose `exit` and `set` stay inside it.
            self.frames.append((self.statements, self.pc, self.errexit, self.xtrace))
            self.statements, self.pc = split_script(args[1]), 0
            self.errexit, self.xtrace = "e" in args[0], "x" in args[0]
            self.status = 0
        elif cmd == "false":
            self.status = 1
        elif cmd in ("true", ":"):
            self.status = 0
        elif cmd == "set":
            for a in args:
                if a.startswith("-"):
                    self.errexit = self.errexit or "e" in a
                    self.xtrace = self.xtrace or "x" in a
                elif a.startswith("+"):
                    self.errexit = self.errexit and "e" not in a
                    self.xtrace = self.xtrace and "x" not in a
            self.status = 0
        elif cmd == "export" or (len(words) == 1 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
            for a in (args if cmd == "export" else words):
                if "=" in a:
                    k, v = a.split("=", 1)
                    self.env = dict(self.env, **{k: v})
            self.status = 0
        else:
            if not self.xtrace and not suppress:
                self.emit("+ " + " ".join(words))
            self.status = 0
