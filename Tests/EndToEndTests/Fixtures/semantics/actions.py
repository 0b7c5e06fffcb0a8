"""Prefect's corners, one behaviour per parameter value (the end-to-end tests choose)."""
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from prefect import flow, get_run_logger, task
from styrmin_backend.actions import execute_commands, start_components, stop_components, upgrade_deployment_version


@flow
def sync_flow(context, parameters):
    # A synchronous flow calling primitives without await: they must run.
    if parameters["behaviour"] == "sync-primitives":
        stop_components(["api"], context=context)
        start_components(["api"], context=context)


class Unprintable(Exception):
    def __str__(self):
        raise KeyError("no message")


_attempts = {"count": 0}


@task(retries=2, retry_delay_seconds=0)
def unprintable_once():
    _attempts["count"] += 1
    if _attempts["count"] == 1:
        raise Unprintable()
    return "second try"


@task(timeout_seconds=1)
def sleeps_sync():
    time.sleep(5)


@task(timeout_seconds=1)
async def sleeps_job(context):
    return await execute_commands(["slow-job"], context=context)


@task
def in_thread(n):
    return n * 2


@task
def typed():
    return {1: ("a", 2), "k": frozenset()}


@task
async def holds_lock(context):
    # A result that cannot be pickled: the action gets it, the step records
    # that it cannot be replayed, and a retry runs the body again.
    import threading
    get_run_logger().info("holds_lock body ran")
    await stop_components(["api"], context=context)
    return {"lock": threading.Lock()}


def first_pending(items):
    return next(iter(items))


@flow
async def upgrade(context, target_version, parameters):
    log = get_run_logger()
    behaviour = parameters["behaviour"]
    if behaviour == "bad-text":
        bad = os.fsdecode(b"caf\xe9-\xff")
        print("print:", bad)
        sys.stderr.write("stderr: " + bad + "\n")
        logging.getLogger("app").warning("logging: %s", bad)
        log.info("run logger: %s", bad)
    if behaviour == "unprintable":
        log.info("result: %s", unprintable_once())
    if behaviour == "task-timeouts":
        for name, call in (("sync", sleeps_sync), ("async", lambda: sleeps_job(context))):
            started = time.monotonic()
            try:
                outcome = call()
                if hasattr(outcome, "__await__"):
                    await outcome
                log.info("%s task returned", name)
            except TimeoutError as error:
                log.info("%s task TimeoutError after %.0f s: %s", name, time.monotonic() - started, error)
    if behaviour == "threads":
        with ThreadPoolExecutor(max_workers=3) as pool:
            log.info("threads: %s", sorted(pool.map(in_thread, range(5))))
    if behaviour == "huge-log":
        log.info("x" * (10 << 20))
        log.info("after the huge record")
    if behaviour == "stop-iteration":
        first_pending([])
    if behaviour == "typed-replay":
        log.info("typed: %r", typed())
        if os.path.exists(parameters["marker"]):
            raise RuntimeError("the cause is still there")
    if behaviour == "unrecorded-result":
        held = await holds_lock(context)
        log.info("got a lock: %s", type(held["lock"]).__name__)
        if os.path.exists(parameters["marker"]):
            raise RuntimeError("the cause is still there")
    await upgrade_deployment_version(target_version, context=context)
