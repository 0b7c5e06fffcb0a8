"""Time limits of tasks (``@task(timeout_seconds=...)``) for code that no
event loop can time out: sync tasks, and async tasks driven without asyncio.

On the flow's (main) thread a SIGALRM timer interrupts the task at its limit,
blocking calls included (time.sleep, a socket read, a wait for a primitive).
On other threads the watchdog raises the limit's exception asynchronously in
that thread (PyThreadState_SetAsyncExc, as Prefect does): Python code stops
at once, a blocking C call when it returns.

The exception raised into the task's body is a BaseException (so neither
the body's ``except Exception`` nor an inner task's retries swallow it); the
task that owns the limit turns it into ``TimeoutError`` at its boundary."""
import _thread
import _signal as signal  # the C module: the public one imports enum (slow), for names we do not need
import time

from . import bridge as _bridge


class TaskTimeout(BaseException):
    """A task's time limit passed (raised inside its body)."""

    deadline = None


_main = {"active": [], "handler": None, "busy": False, "missed": False}


class Deadline:
    """``with Deadline(seconds, message):`` raises TimeoutError(message) when
    the block runs longer than `seconds`."""

    def __init__(self, seconds, message):
        self.seconds = float(seconds)
        self.message = message
        self.exception_type = type("TaskTimeout", (TaskTimeout,), {"deadline": self})
        self.at = None
        self.fired = False
        self.active = False
        self.thread = None
        self._guard = None
        self._stop = None

    def __enter__(self):
        self.thread = _thread.get_ident()
        self.active = True
        channel = _bridge.bridge
        main = channel.main_thread if channel is not None else None
        if self.thread == main:
            _arm_main(self)
        else:
            self._arm_thread()
        return self

    def __exit__(self, kind, error, traceback):
        if self.thread is not None and self._stop is None:
            _disarm_main(self)
        elif self._stop is not None:
            with self._guard:
                self.active = False
            self._stop.release()
            if self.fired and not isinstance(error, self.exception_type):
                _clear_async_exception(self.thread)
        self.active = False
        if isinstance(error, self.exception_type):
            raise TimeoutError(self.message) from None
        return False

    # -- threads other than the flow's ------------------------------------------

    def _arm_thread(self):
        self._guard = _thread.allocate_lock()
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        _thread.start_new_thread(self._watch, ())

    def _watch(self):
        if self._stop.acquire(timeout=self.seconds):
            return
        channel = _bridge.bridge
        while True:
            with self._guard:
                if not self.active:
                    return
                # Not in the middle of a protocol line: the engine would see a malformed message.
                if channel is None or self.thread not in channel.sending_threads:
                    self.fired = True
                    _raise_in_thread(self.thread, self.exception_type)
                    return
            time.sleep(0.001)


def _raise_in_thread(ident, exception_type):
    import ctypes
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exception_type))


def _clear_async_exception(ident):
    import ctypes
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


# -- the flow's thread: SIGALRM ----------------------------------------------------


def _arm_main(deadline):
    state = _main
    state["busy"] = True
    try:
        deadline.at = time.monotonic() + deadline.seconds
        if not state["active"]:
            state["handler"] = signal.signal(signal.SIGALRM, _on_alarm)
        state["active"].append(deadline)
        _set_timer()
    finally:
        state["busy"] = False
    _catch_up()


def _disarm_main(deadline):
    state = _main
    state["busy"] = True
    try:
        if deadline in state["active"]:
            state["active"].remove(deadline)
        if state["active"]:
            _set_timer()
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            previous, state["handler"] = state["handler"], None
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
    finally:
        state["busy"] = False
    state["missed"] = False


def _set_timer():
    waiting = [d.at for d in _main["active"] if not d.fired]
    if not waiting:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    signal.setitimer(signal.ITIMER_REAL, max(min(waiting) - time.monotonic(), 0.0005))


def _catch_up():
    if _main["missed"]:
        _main["missed"] = False
        _on_alarm(signal.SIGALRM, None)


def _on_alarm(_signum, _frame):
    state = _main
    if state["busy"]:
        state["missed"] = True
        return
    now = time.monotonic()
    due = [d for d in state["active"] if not d.fired and d.at <= now + 0.0005]
    if not due:
        _set_timer()
        return
    # The outermost limit that passed: its exception unwinds the inner tasks too.
    deadline = due[0]
    deadline.fired = True
    _set_timer()
    error = deadline.exception_type(deadline.message)
    channel = _bridge.bridge
    if channel is not None:
        channel.raise_in_main(error)
    else:
        raise error
