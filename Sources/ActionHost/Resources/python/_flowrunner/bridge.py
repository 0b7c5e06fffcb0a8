"""The protocol channel to the engine.

At start-up the host duplicates its stdin and stdout to private descriptors
(not inherited by child processes), points descriptor 0 at /dev/null and
descriptor 1 at stderr. From then on nothing the action does with print,
C code or child processes can reach the protocol channel: it all lands on
stderr, which the engine turns into log lines.

Messages are JSON objects, one per line, UTF-8.
"""
import _thread
import json
import os
import select

PROTOCOL_VERSION = 1


def _fallback(value):
    """JSON for values json cannot encode."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return {"$repr": repr(value)}


_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_fallback)


def encode(message):
    return (_encoder.encode(message) + "\n").encode("utf-8")


def _close_inherited(keep):
    """Closes descriptors above 2 that the host did not open itself (an
    engine without closefrom may have let some through): they could keep
    another process's pipe open."""
    try:
        inherited = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in inherited:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class ChannelClosed(Exception):
    """The protocol channel is gone."""


class Cancelled(BaseException):
    """Raised into the action when the engine cancels it (a timeout or a
    cancel) while no asyncio loop runs; ``finally`` blocks run."""


class Reply:
    """The awaitable result of a request. Under asyncio it wraps a future;
    otherwise the host's coroutine driver fills it in."""

    __slots__ = ("call_id", "message", "future")

    def __init__(self, call_id, future):
        self.call_id = call_id
        self.message = None
        self.future = future

    def __await__(self):
        if self.future is not None:
            return (yield from self.future.__await__())
        if self.message is None:
            yield self
        return self.message


class Bridge:
    def __init__(self):
        self.fd_in = os.dup(0)
        self.fd_out = os.dup(1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        _close_inherited(keep=(self.fd_in, self.fd_out))
        self._write_lock = _thread.allocate_lock()
        self._buffer = b""
        self._next_id = 0
        self._futures = {}
        self._replies = {}
        self.loop = None
        self.loop_thread = None
        self.on_cancel = None
        self.cancel_requested = None
        self.before_call = None

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

    def _next_message(self):
        """The next message, blocking for it."""
        while b"\n" not in self._buffer:
            self._buffer += self._read_chunk(blocking=True)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line) if line.strip() else None

    def read_message_blocking(self):
        message = None
        while message is None:
            message = self._next_message()
        return message

    def _dispatch(self, message):
        kind = message.get("type")
        if kind == "result":
            call_id = message.get("id")
            future = self._futures.pop(call_id, None)
            if future is not None:
                if not future.done():
                    future.set_result(message)
            else:
                self._replies[call_id] = message
        elif kind == "cancel":
            self.cancel_requested = message.get("reason") or "cancelled"
            if self.on_cancel:
                self.on_cancel(self.cancel_requested)

    # -- waiting without asyncio ---------------------------------------------

    def wait_for(self, reply):
        """Block until `reply` has its message; a cancel raises Cancelled."""
        while reply.message is None:
            if self.cancel_requested:
                raise Cancelled("the engine cancelled the action (%s)" % self.cancel_requested)
            if reply.call_id in self._replies:
                reply.message = self._replies.pop(reply.call_id)
                return
            message = self._next_message()
            if message is not None:
                self._dispatch(message)

    # -- asyncio mode --------------------------------------------------------

    def attach(self, loop):
        """Deliver results to futures on `loop` from now on."""
        self.loop = loop
        self.loop_thread = _thread.get_ident()
        os.set_blocking(self.fd_in, False)
        loop.add_reader(self.fd_in, self._on_readable)
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
            for future in self._futures.values():
                if not future.done():
                    future.set_exception(ChannelClosed(str(error)))
            self._futures.clear()
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

    # -- calls -------------------------------------------------------------

    def call(self, message):
        """Send a request; returns an awaitable of its result message."""
        if self.before_call is not None:
            self.before_call()
        self._next_id += 1
        call_id = self._next_id
        message["id"] = call_id
        future = None
        if self.loop is not None:
            future = self.loop.create_future()
            self._futures[call_id] = future
        self.send(message)
        return Reply(call_id, future)

    def call_sync(self, message):
        """Send a request and block for its result: for synchronous code
        (sync tasks), which cannot await. From a thread other than the event
        loop's (asyncio.to_thread), the request goes through the loop, which
        owns the channel."""
        loop = self.loop
        if loop is not None and _thread.get_ident() != self.loop_thread:
            import asyncio

            async def through_loop():
                return await self.call(message)

            return asyncio.run_coroutine_threadsafe(through_loop(), loop).result()
        if self.before_call is not None:
            self.before_call()
        self._next_id += 1
        call_id = self._next_id
        message["id"] = call_id
        self.send(message)
        while True:
            if call_id in self._replies:
                return self._replies.pop(call_id)
            message = self._next_message()
            if message is None:
                continue
            if message.get("type") == "result" and message.get("id") == call_id:
                return message
            self._dispatch(message)


bridge = None


def current():
    """The host's bridge; fails clearly when used outside the FlowRunner host."""
    if bridge is None:
        raise RuntimeError(
            "styrmin_backend.actions can only be used inside a FlowRunner action run "
            "(flowrunner deploy / upgrade / dry-run)")
    return bridge
