"""Upgrade actions whose behaviour the end-to-end tests choose by parameter."""
import asyncio
import os
import time

from prefect import flow, get_run_logger, task
from styrmin_backend.actions import (execute_commands, get_component_images, start_components, stop_components,
                                     upgrade_deployment_version)


def _touch(path, text):
    with open(path, "a") as handle:
        handle.write(text + "\n")


@task
async def prepare(context):
    """A task that calls a primitive inside it."""
    await stop_components(["api"], context=context)
    return "prepared"


async def _branch(tag, context):
    await execute_commands([tag + "-1"], context=context)
    await execute_commands([tag + "-2"], context=context)


@flow(retries=2, retry_delay_seconds=0)
async def upgrade(context, target_version, parameters):
    logger = get_run_logger()
    behaviour = parameters["behaviour"]
    marker = parameters["marker"]
    logger.info("behaviour %s", behaviour)
    if behaviour == "ticker":
        # A log line every 0.2 s until the marker exists (at most a minute): a run whose log grows while a page follows it.
        for tick in range(300):
            if os.path.exists(marker):
                break
            logger.info("tick %d", tick)
            await asyncio.sleep(0.2)
    if behaviour == "hang":
        _touch(marker + ".pid", str(os.getpid()))
        while True:
            time.sleep(0.05)
    if behaviour == "secret":
        _touch(marker, parameters["token"])
        logger.info("the token is %s", parameters["token"])
        print("printed: " + parameters["token"])
    if behaviour == "command-timeout":
        # The job takes longer than the primitive waits (the fixture sets its duration).
        await execute_commands(["migrate --to " + target_version], context=context, timeout=1)
    if behaviour == "secret-leak":
        # The secret reaches a step's arguments, its job output and an exception message.
        await execute_commands(["echo login --token " + parameters["token"]], context=context)
        raise RuntimeError("login refused for token " + parameters["token"])
    if behaviour == "escapes":
        print("\x1b[2J\x1b[Hscreen cleared \x1b]52;c;cHduZWQ=\x07 \x9b2J")
        logger.info("fake \r\x1b[32m\u2713 succeeded\x1b[0m")
    if behaviour == "flaky":
        count_file = marker + ".count"
        _touch(count_file, "x")
        with open(count_file) as handle:
            attempts = len(handle.read().split())
        if attempts == 1:
            raise RuntimeError("flaky: the first attempt fails")
    if behaviour == "always-fails":
        # Every attempt fails, each with its own message.
        count_file = marker + ".count"
        _touch(count_file, "x")
        with open(count_file) as handle:
            attempts = len(handle.read().split())
        raise RuntimeError("always fails: attempt %d" % attempts)
    if behaviour == "nested-task":
        await prepare(context)
    if behaviour == "crash-mid-gather":
        # The host dies while thousands of calls are in flight.
        import threading
        threading.Timer(1.0, lambda: os._exit(3)).start()
        await asyncio.gather(*[get_component_images(component="api", context=context) for _ in range(3000)])
        while True:
            await get_component_images(component="api", context=context)
    if behaviour == "gather":
        await asyncio.gather(_branch("slow", context), _branch("fast", context))
        if os.path.exists(marker):
            raise RuntimeError("the cause is still there: " + marker)
    await stop_components(["worker"], context=context)
    await execute_commands(["migrate --to " + target_version], context=context, env_from_component="api")
    if behaviour == "nested-task" and os.path.exists(marker):
        raise RuntimeError("the cause is still there: " + marker)
    if behaviour == "fail-after-two" and os.path.exists(marker):
        raise RuntimeError("the cause is still there: " + marker)
    await upgrade_deployment_version(target_version, context=context)
    await start_components(["worker"], context=context)
