"""The protocol channel to the engine.

At start-up the host duplicates its stdin and stdout to private descriptors
(not inherited by child processes), points descriptor 0 at /dev/null and
descriptor 1 at stderr. From then on nothing the action does with print,
C code or child processes can reach the protocol channel: it all lands on
stderr, which the engine turns into log lines.

Messages are JSON objects, one per line, UTF-8.

After the handshake one reader thread owns the engine's side: it reads every
message and hands each result to the call waiting for it (a future of the
event loop that awaits it, or a slot a thread blocks on). So calls work from
any thread, whatever the flow's thread is doing (blocked in synchronous code,
waiting for a thread pool), and nothing waits for an event loop that cannot
run. A cancel from the engine interrupts the action once (see
``take_interruption``): whichever comes first of the cancel message and the
engine's SIGTERM delivers it; after that, cleanup code (``finally`` blocks and
the primitives they call) runs normally until the engine's grace period ends.
"""
import _thread
import os
import sys

from . import jsonline as _jsonline
from .safe import safe_repr, safe_text

PROTOCOL_VERSION = 1


def _fallback(value):
    """JSON for values json cannot encode."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return {"$repr": safe_repr(value)}


_encode = _jsonline.make_encoder(_fallback)
_NON_FINITE = {float("inf"): "Infinity", float("-inf"): "-Infinity"}
_INT_LIMIT = 1 << 64


def _plain_key(key):
    if isinstance(key, str):
        return safe_text(key)
    if key is None or isinstance(key, bool):
        return "null" if key is None else ("true" if key else "false")
    if isinstance(key, (int, float)):
        return safe_repr(key)
    return safe_repr(key)


def plain(value, _depth=0, _seen=None):
    """`value` as plain JSON data, whatever it holds: strings that encode as
    UTF-8 (undecodable bytes escaped), finite numbers (NaN and infinities
    as strings), lists for tuples and sets, str keys; anything else is
    described by its repr. Never raises."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, int):
        value = int(value)
        return value if -_INT_LIMIT < value < _INT_LIMIT else safe_repr(value)
    if isinstance(value, float):
        value = float(value)
        if value != value:
            return "NaN"
        return _NON_FINITE.get(value, value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if _depth > 100:
        return {"$repr": safe_repr(value, 200)}
    if _seen is None:
        _seen = set()
    marker = id(value)
    if marker in _seen:
        return {"$repr": "<recursive reference to %s>" % type(value).__name__}
    try:
        if isinstance(value, dict):
            _seen.add(marker)
            return {_plain_key(k): plain(v, _depth + 1, _seen) for k, v in list(value.items())}
        if isinstance(value, (list, tuple, set, frozenset)):
            _seen.add(marker)
            items = list(value)
            if isinstance(value, (set, frozenset)):
                try:
                    items = sorted(items)
                except Exception:
                    pass
            return [plain(v, _depth + 1, _seen) for v in items]
        model_dump = getattr(value, "model_dump", None)
        if callable(model_dump):
            _seen.add(marker)
            return plain(model_dump(), _depth + 1, _seen)
    except Exception:
        pass
    finally:
        _seen.discard(marker)
    return {"$repr": safe_repr(value)}


def encode(message):
    """One protocol line. Text that cannot be encoded (lone surrogates), NaN,
    objects json does not know: the message is made plain (``plain``)
    rather than failing."""
    try:
        return (_encode(message) + "\n").encode("utf-8")
    except Exception:
        return (_encode(plain(message)) + "\n").encode("utf-8")


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
    cancel) while it waits for a call without an event loop; ``finally``
    blocks run."""


class _Slot:
    """Where a thread blocks for the reply to its call."""

    __slots__ = ("message", "_lock", "_guard", "_signalled")

    def __init__(self):
        self.message = None
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self._guard = _thread.allocate_lock()
        self._signalled = False

    def signal(self, message=None):
        """Wake the waiter (with its reply, or to look at the channel's state)."""
        with self._guard:
            if message is not None:
                self.message = message
            if not self._signalled:
                self._signalled = True
                self._lock.release()

    def block(self):
        """Until signalled; signals interrupt it (the exception propagates)."""
        self._lock.acquire()
        with self._guard:
            self._signalled = False


def _resolve(future, message):
    if not future.done():
        future.set_result(message)


def _fail(future, error):
    if not future.done():
        future.set_exception(error)


class Reply:
    """The awaitable result of a request. Awaited under an event loop it
    wraps a future of that loop; otherwise the coroutine driver
    (``Bridge.drive``) waits for it."""

    __slots__ = ("call_id", "message", "future", "slot", "cancellable")

    def __init__(self, call_id, future, slot=None, cancellable=False):
        self.call_id = call_id
        self.message = None
        self.future = future
        self.slot = slot
        self.cancellable = cancellable

    def __await__(self):
        if self.future is not None:
            return (yield from self.future.__await__())
        if self.message is None:
            yield self
        return self.message

    def __repr__(self):
        return "<reply to FlowRunner call %s>" % self.call_id


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
        self._state_lock = _thread.allocate_lock()
        self._buffer = b""
        self._next_id = 0
        self._waiters = {}
        self.main_thread = _thread.get_ident()
        self._main_slot = None
        # One token: the action is interrupted (cancel, SIGTERM) at most once.
        self._interruption = [True]
        self._critical = 0
        self._pending = None
        self._driving = {}
        self.sending_threads = set()
        self.closed = None
        self.cancel_requested = None
        self.loop = None
        self.flow_task = None
        self.before_call = None
        # Calls answered from the start message's records (_flowrunner.replay), or None.
        self.local_replay = None

    # -- sending -----------------------------------------------------------

    def send(self, message):
        """Writes `message` (None: nothing but the calls answered by local
        replay). Calls answered locally are reported first, before any
        other message, so the engine sees every call and line in order."""
        data = b"" if message is None else encode(message)
        with self._write_lock:
            # An interruption must not cut a line (the engine would see a
            # malformed message), nor fall between taking the calls answered
            # by local replay and writing them.
            held = self._hold_interruptions()
            try:
                replay = self.local_replay
                if replay is not None and replay.answered:
                    answered = replay.take()
                    if answered is not None:
                        data = answered + data
                view = memoryview(data)
                while view:
                    try:
                        written = os.write(self.fd_out, view)
                    except InterruptedError:
                        continue
                    except OSError as error:
                        raise ChannelClosed("cannot write to the protocol channel (%s)" % (error.strerror or error))
                    view = view[written:]
            finally:
                self._release_interruptions(held)
        self._raise_deferred(held)

    def _hold_interruptions(self):
        """Marks the calling thread as in a section an interruption must not
        cut: the flow's thread defers a signal handler's (``raise_in_main``)
        to ``_raise_deferred``; other threads are skipped by the task
        time-limit watchdog. Returns what the two calls below take."""
        ident = _thread.get_ident()
        main = ident == self.main_thread
        if main:
            self._critical += 1
        else:
            self.sending_threads.add(ident)
        return ident, main

    def _release_interruptions(self, held):
        ident, main = held
        if main:
            self._critical -= 1
        else:
            self.sending_threads.discard(ident)

    def _raise_deferred(self, held):
        """Raises the interruption deferred while the flow's thread was held, once it is out of every such section."""
        if held[1] and self._pending is not None and not self._critical:
            pending, self._pending = self._pending, None
            raise pending

    def raise_in_main(self, error):
        """For signal handlers (they run on the flow's thread): raise `error`
        now, or right after the protocol write in progress."""
        if self._critical:
            self._pending = error
            return
        raise error

    # -- receiving ---------------------------------------------------------

    def _read_chunk(self):
        while True:
            try:
                chunk = os.read(self.fd_in, 1 << 16)
            except InterruptedError:
                continue
            except OSError as error:
                raise ChannelClosed("cannot read the protocol channel (%s)" % (error.strerror or error))
            if not chunk:
                raise ChannelClosed("the engine closed the protocol channel")
            return chunk

    def _next_message(self):
        """The next message, blocking for it (None for an empty line)."""
        while b"\n" not in self._buffer:
            self._buffer += self._read_chunk()
        line, self._buffer = self._buffer.split(b"\n", 1)
        return _jsonline.loads(line) if line.strip() else None

    def read_message_blocking(self):
        """The handshake's read, before the reader thread starts."""
        message = None
        while message is None:
            message = self._next_message()
        return message

    def start_reader(self):
        """From now on a thread of its own reads the engine's messages."""
        _thread.start_new_thread(self._reader, ())

    def _reader(self):
        try:
            while True:
                try:
                    message = self._next_message()
                except ValueError as error:
                    self._warn("ignored a malformed message from the engine (%s)" % error)
                    continue
                if message is not None:
                    self._dispatch(message)
        except ChannelClosed as error:
            self._close(str(error))
        except BaseException as error:  # the reader must say why it stopped
            self._close("the protocol reader failed: %s" % safe_repr(error))

    def _warn(self, text):
        try:
            os.write(2, ("flowrunner host: %s\n" % text).encode("utf-8", "backslashreplace"))
        except OSError:
            pass

    def _dispatch(self, message):
        kind = message.get("type")
        if kind == "result":
            with self._state_lock:
                waiter = self._waiters.pop(message.get("id"), None)
            if waiter is None:
                return  # a call its caller gave up on (interrupted, timed out)
            if isinstance(waiter, _Slot):
                waiter.signal(message)
            else:
                try:
                    waiter.get_loop().call_soon_threadsafe(_resolve, waiter, message)
                except RuntimeError:
                    pass  # its event loop is closed
        elif kind == "cancel":
            self.cancel_requested = message.get("reason") or "cancelled"
            slot = self._main_slot
            if slot is not None:
                slot.signal()
            loop, task = self.loop, self.flow_task
            if loop is not None and task is not None:
                try:
                    loop.call_soon_threadsafe(self.cancel_flow_task)
                except RuntimeError:
                    pass
            # Whatever the flow's thread is doing (blocked in synchronous code,
            # in a thread pool's wait), its SIGTERM handler delivers the one
            # interruption now rather than when the engine's SIGTERM comes.
            try:
                import signal
                signal.pthread_kill(self.main_thread, signal.SIGTERM)
            except (AttributeError, OSError, ValueError):
                pass

    def _close(self, reason):
        self.closed = reason
        with self._state_lock:
            waiters = list(self._waiters.values())
            self._waiters.clear()
        for waiter in waiters:
            if isinstance(waiter, _Slot):
                waiter.signal()
            else:
                try:
                    waiter.get_loop().call_soon_threadsafe(_fail, waiter, ChannelClosed(reason))
                except RuntimeError:
                    pass
        slot = self._main_slot
        if slot is not None:
            slot.signal()

    # -- cancellation --------------------------------------------------------

    def take_interruption(self):
        """True once per action: the one interruption a cancel may deliver."""
        try:
            self._interruption.pop()
            return True
        except IndexError:
            return False

    def attach(self, loop, task):
        """The flow runs as `task` on `loop`: a cancel cancels that task."""
        self.loop = loop
        self.flow_task = task
        if self.cancel_requested:
            self.cancel_flow_task()

    def detach(self):
        self.loop = None
        self.flow_task = None

    def cancel_flow_task(self):
        """On the loop's thread: cancel the flow's task, unless the action was interrupted already."""
        task = self.flow_task
        if task is not None and not task.done() and self.take_interruption():
            task.cancel()

    # -- calls -------------------------------------------------------------

    def loop_for_call(self):
        """The event loop that awaits a call made now on this thread, or None
        (no loop runs here, or a coroutine is driven synchronously)."""
        if self._driving.get(_thread.get_ident()):
            return None
        asyncio = sys.modules.get("asyncio")
        if asyncio is None:
            return None
        return asyncio._get_running_loop()

    def _abandon(self, call_id):
        with self._state_lock:
            self._waiters.pop(call_id, None)

    def _give_up(self, call_id):
        """The caller stopped waiting for a primitive (its task timed out, it
        was cancelled): the engine stops the primitive too (deleting its job)
        rather than let it run on unseen (``call_cancel``)."""
        with self._state_lock:
            if self._waiters.pop(call_id, None) is None:
                return  # answered already, or the channel closed
        if self.closed is not None:
            return
        try:
            self.send({"type": "call_cancel", "id": call_id})
        except ChannelClosed:
            pass

    def _request(self, message, loop):
        if self.before_call is not None:
            self.before_call()
        if self.closed is not None:
            raise ChannelClosed(self.closed)
        replay = self.local_replay
        if replay is not None and replay.active and message.get("type") == "call":
            if self.cancel_requested:
                replay.stop()
            answer = self._answer_locally(replay, message)
            if answer is not None:
                if replay.batch_full:
                    self.send(None)
                return self._answered(answer, loop)
        future = loop.create_future() if loop is not None else None
        slot = None if future is not None else _Slot()
        with self._state_lock:
            self._next_id += 1
            call_id = self._next_id
            self._waiters[call_id] = future if future is not None else slot
        message["id"] = call_id
        try:
            self.send(message)
        except BaseException:
            self._abandon(call_id)
            raise
        cancellable = message.get("kind") == "primitive"
        if future is not None and cancellable:
            future.add_done_callback(lambda done: self._future_done(call_id, done))
        return Reply(call_id, future, slot, cancellable)

    def _answer_locally(self, replay, message):
        """`replay.answer(message)`, which an interruption (a cancel's
        SIGTERM, a task's time limit) does not cut in two: it is delivered
        right after, as during a write."""
        held = self._hold_interruptions()
        try:
            answer = replay.answer(message)
        finally:
            self._release_interruptions(held)
        self._raise_deferred(held)
        return answer

    @staticmethod
    def _answered(answer, loop):
        """A reply holding `answer` (local replay): under an event loop, one
        loop turn later (other tasks make their calls first, as they would
        while the engine answers)."""
        if loop is not None:
            future = loop.create_future()
            loop.call_soon(_resolve, future, answer)
            return Reply(None, future)
        slot = _Slot()
        slot.message = answer
        reply = Reply(None, None, slot)
        reply.message = answer
        return reply

    def _future_done(self, call_id, future):
        if not future.cancelled():
            return
        try:
            self._give_up(call_id)
        except BaseException as error:  # an interruption deferred past the write: deliver it at the next one
            self._pending = error

    def call(self, message):
        """Send a request; returns an awaitable of its result message."""
        return self._request(message, self.loop_for_call())

    def call_sync(self, message):
        """Send a request and block for its result: for synchronous code, on
        any thread (the reader thread delivers the reply)."""
        return self.wait(self._request(message, None))

    def wait(self, reply):
        """Block until `reply` has its message. On the flow's thread a cancel
        raises Cancelled, once per action."""
        slot = reply.slot
        main = _thread.get_ident() == self.main_thread
        if main:
            outer, self._main_slot = self._main_slot, slot
        try:
            while True:
                if slot.message is not None:
                    reply.message = slot.message
                    return reply.message
                if self.closed is not None:
                    raise ChannelClosed(self.closed)
                if main and self.cancel_requested and self.take_interruption():
                    raise Cancelled("the engine cancelled the action (%s)" % self.cancel_requested)
                slot.block()
        except BaseException:
            if slot.message is None:
                if reply.cancellable:
                    self._give_up(reply.call_id)
                else:
                    self._abandon(reply.call_id)
            raise
        finally:
            if main:
                self._main_slot = outer

    def drive(self, coroutine, what="the action"):
        """Runs a coroutine to its end on this thread without an event loop
        (its awaits must be FlowRunner calls) and returns its value. Whatever
        interrupts a wait (a cancel, SIGTERM, a task's time limit) is raised
        inside the coroutine, at its await, so its ``finally`` blocks run."""
        if not hasattr(coroutine, "send"):
            coroutine = coroutine.__await__()
        ident = _thread.get_ident()
        self._driving[ident] = self._driving.get(ident, 0) + 1
        try:
            value = None
            error = None
            while True:
                try:
                    if error is not None:
                        thrown, error = error, None
                        awaited = coroutine.throw(thrown)
                    else:
                        awaited = coroutine.send(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    value = None
                    if awaited is None:
                        continue  # a bare yield (asyncio.sleep(0)): nothing to wait for
                    if isinstance(awaited, Reply) and awaited.slot is not None:
                        self.wait(awaited)
                    else:
                        error = RuntimeError(
                            "%s awaited %s, which needs an asyncio event loop; FlowRunner runs it without one "
                            "(only FlowRunner's primitives and tasks can be awaited here). Import asyncio in the "
                            "action's module and make the flow async, or await only primitives and tasks"
                            % (what, safe_repr(awaited, 200)))
                except BaseException as interruption:
                    error = interruption
        finally:
            depth = self._driving.get(ident, 1) - 1
            if depth:
                self._driving[ident] = depth
            else:
                self._driving.pop(ident, None)


bridge = None


def current():
    """The host's bridge; fails clearly when used outside the FlowRunner host."""
    if bridge is None:
        raise RuntimeError(
            "styrmin_backend.actions can only be used inside a FlowRunner action run "
            "(flowrunner deploy / upgrade / dry-run)")
    return bridge
