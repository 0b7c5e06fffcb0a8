"""The protocol channel to the engine.

At start-up the host duplicates its stdin and stdout to private descriptors
(not inherited by child processes), points descriptor 0 at /dev/null and
descriptor 1 at stderr. From then on nothing the action does with print,
C code or child processes can reach the protocol channel: it all lands on
stderr, which the engine turns into log lines.

Messages are JSON objects, one per line, UTF-8.
"""
import json
import os
import select
import threading

PROTOCOL_VERSION = 1


def _fallback(value):
    """JSON for values json cannot encode: their repr, marked."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return {"$repr": repr(value)}


def encode(message):
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=_fallback) + "\n").encode("utf-8")


class ChannelClosed(Exception):
    """The engine closed the protocol channel."""


class Bridge:
    def __init__(self):
        self.fd_in = os.dup(0)
        self.fd_out = os.dup(1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        self._write_lock = threading.Lock()
        self._buffer = b""
        self._next_id = 0
        self._pending = {}
        self._early_results = {}
        self.loop = None
        self.on_cancel = None
        self.cancel_requested = None

    # -- sending -----------------------------------------------------------

    def send(self, message):
        data = encode(message)
        with self._write_lock:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self.fd_out, view)
                except InterruptedError:
                    continue
                except OSError as error:
                    raise ChannelClosed("cannot write to the protocol channel (%s)" % (error.strerror or error))
                view = view[written:]

    def new_id(self):
        self._next_id += 1
        return self._next_id

    # -- receiving ---------------------------------------------------------

    def _read_chunk(self, blocking):
        while True:
            try:
                chunk = os.read(self.fd_in, 1 << 16)
            except BlockingIOError:
                if not blocking:
                    return None
                select.select([self.fd_in], [], [])
                continue
            except InterruptedError:
                continue
            except OSError as error:
                raise ChannelClosed("cannot read the protocol channel (%s)" % (error.strerror or error))
            if not chunk:
                raise ChannelClosed("the engine closed the protocol channel")
            return chunk

    def read_message_blocking(self):
        """One message, waiting for it (used before the event loop runs and by sync calls)."""
        while b"\n" not in self._buffer:
            self._buffer += self._read_chunk(blocking=True)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def attach(self, loop):
        """Deliver results to futures on `loop` from now on."""
        self.loop = loop
        os.set_blocking(self.fd_in, False)
        loop.add_reader(self.fd_in, self._on_readable)
        # Lines already buffered before the loop ran.
        self._drain_buffer()

    def detach(self):
        if self.loop is not None:
            try:
                self.loop.remove_reader(self.fd_in)
            except Exception:
                pass
        os.set_blocking(self.fd_in, True)
        self.loop = None

    def _on_readable(self):
        try:
            chunk = self._read_chunk(blocking=False)
        except ChannelClosed as error:
            self.loop.remove_reader(self.fd_in)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ChannelClosed(str(error)))
            self._pending.clear()
            if self.on_cancel:
                self.on_cancel("the engine closed the protocol channel")
            return
        if chunk is None:
            return
        self._buffer += chunk
        self._drain_buffer()

    def _drain_buffer(self):
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                self._dispatch(json.loads(line))

    def _dispatch(self, message):
        kind = message.get("type")
        if kind == "result":
            future = self._pending.pop(message.get("id"), None)
            if future is None:
                self._early_results[message.get("id")] = message
            elif not future.done():
                future.set_result(message)
        elif kind == "cancel":
            self.cancel_requested = message.get("reason") or "cancelled"
            if self.on_cancel:
                self.on_cancel(self.cancel_requested)

    # -- calls -------------------------------------------------------------

    async def call(self, message):
        """Send a request and wait for its result message (event loop running)."""
        call_id = self.new_id()
        message["id"] = call_id
        future = self.loop.create_future()
        self._pending[call_id] = future
        self.send(message)
        return await future

    def call_sync(self, message):
        """Send a request and block for its result: for synchronous code
        (sync tasks) running on the event loop's thread, which cannot await."""
        call_id = self.new_id()
        message["id"] = call_id
        self.send(message)
        while True:
            if call_id in self._early_results:
                return self._early_results.pop(call_id)
            while b"\n" not in self._buffer:
                try:
                    self._buffer += self._read_chunk(blocking=True)
                except BlockingIOError:
                    select.select([self.fd_in], [], [])
            line, self._buffer = self._buffer.split(b"\n", 1)
            if not line.strip():
                continue
            reply = json.loads(line)
            if reply.get("type") == "result" and reply.get("id") == call_id:
                return reply
            self._dispatch(reply)


bridge = None


def current():
    """The host's bridge; fails clearly when used outside the FlowRunner host."""
    if bridge is None:
        raise RuntimeError(
            "styrmin_backend.actions can only be used inside a FlowRunner action run "
            "(flowrunner deploy / upgrade / dry-run)")
    return bridge

