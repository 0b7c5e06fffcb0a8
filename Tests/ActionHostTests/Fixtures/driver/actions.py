"""Actions that exercise the host: good ones and misbehaving ones."""
import asyncio
import logging
import os
import subprocess
import sys
import time

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run
from styrmin_backend.actions import (
    CommandFailed,
    GlobalContext,
    execute_commands,
    get_component_images,
    get_deployment_version,
    stop_components,
)


@flow
async def logs_and_context(context: GlobalContext, target_version: str):
    print("hello from print")
    print("to stderr", file=sys.stderr)
    get_run_logger().info("run logger says %s", target_version)
    logging.getLogger("custom").warning("custom logger")
    os.write(2, b"raw bytes on fd 2\n")
    subprocess.run(["echo", "child process output"], check=True)
    return {
        "version": context.app.version,
        "fqdn": context.services["my-app"].primary_fqdn,
        "dump": context.model_dump()["instance"],
        "same": context.dict() == context.model_dump(),
        "flow_run": [flow_run.id, flow_run.name],
    }


@flow(retries=2, retry_delay_seconds=[1, 5], timeout_seconds=30, name="with-options")
async def with_options(context):
    return "ok"


async def gathered(context):
    results = await asyncio.gather(
        get_component_images(component="slow", context=context),
        get_component_images(component="fast", context=context),
        get_component_images("dep-1", "medium"),
    )
    return results


async def both_styles(context):
    await stop_components(["a"], context=context)
    await stop_components("dep-1", ["b"])
    await stop_components(components=["c"])
    return await get_deployment_version()


async def command_fails(context):
    try:
        await execute_commands(["false"], context=context)
    except CommandFailed as error:
        return {"exit_code": error.exit_code, "output": error.output, "message": str(error)}
    return "no exception"


FLAKY = {"calls": 0}


@task(retries=2, retry_delay_seconds=0)
async def flaky(n):
    FLAKY["calls"] += 1
    if FLAKY["calls"] < 3:
        raise RuntimeError("flaky failure %d" % FLAKY["calls"])
    return n * 2


@task
def sync_task(x):
    print("sync task body ran")
    return {"doubled": x * 2}


@task
async def not_json():
    return {1, 2, 3}


@flow
async def tasks(context):
    a = await flaky(21)
    b = sync_task(5)
    c = await not_json()
    return {"a": a, "b": b, "c": sorted(c)}


def sync_flow(target_version, current_version=None):
    return {"target": target_version, "current": current_version, "task": sync_task(1)}


async def wants_parameter(storage_size, parameters, deployment_id):
    return [storage_size, parameters, deployment_id]


async def wants_kwargs(**everything):
    return sorted(everything)


async def wants_unknown(context, foo, bar):
    return None


async def raises(context):
    values = {}
    return values["missing"]


async def exits(context):
    sys.exit(3)


async def hard_exit(context):
    os._exit(5)


async def segfault(context):
    import ctypes
    ctypes.string_at(0)


async def closes_channel(context):
    from _flowrunner import bridge
    os.close(bridge.bridge.fd_out)
    await stop_components(["x"], context=context)


async def garbage(context):
    from _flowrunner import bridge
    os.write(bridge.bridge.fd_out, b"this is not json\n")
    await asyncio.sleep(5)


async def huge_line(context):
    from _flowrunner import bridge
    chunk = b"x" * (1 << 20)
    for _ in range(100):
        os.write(bridge.bridge.fd_out, chunk)
    await asyncio.sleep(5)


async def floods_stdout(context):
    chunk = ("y" * 999 + "\n") * 1000  # 1 MB of lines
    for _ in range(1000):
        sys.stdout.write(chunk)
    print("and a last print")
    os.write(1, b"z" * (64 << 20))
    return "survived"


def _record(marker, text):
    with open(marker, "a") as f:
        f.write(text + "\n")


async def hangs_async(context, parameters):
    marker = parameters["marker"]
    child = subprocess.Popen(["sleep", "1000"])
    _record(marker, "pids %d %d" % (os.getpid(), child.pid))
    try:
        await asyncio.sleep(3600)
    finally:
        _record(marker, "finally ran")


def hangs_sync(parameters):
    marker = parameters["marker"]
    _record(marker, "pids %d %d" % (os.getpid(), os.getpid()))
    try:
        time.sleep(3600)
    finally:
        _record(marker, "finally ran")


async def unsupported_prefect(context):
    from prefect import deploy  # noqa: F401


async def unsupported_prefect_module(context):
    import prefect.deployments  # noqa: F401


async def many_calls(context, parameters):
    for _ in range(parameters["count"]):
        await get_deployment_version()
    return parameters["count"]


not_a_function = 42


@task
def prep_inside(context):
    """A task that calls a primitive inside it."""
    return {"inner": 1}


@task
async def task_with_inner_call(context):
    await stop_components(["inner"], context=context)
    return "prepared"


async def nested_then_fail(context, parameters):
    """A task whose body calls a primitive, then a primitive, then a failure."""
    first = await task_with_inner_call(context)
    await execute_commands(["after-task"], context=context)
    if parameters.get("fail"):
        raise RuntimeError("fail after the task")
    return first


def _threaded_sync(index):
    return sync_task(index)


async def sync_tasks_in_threads(context):
    results = await asyncio.gather(*[asyncio.to_thread(_threaded_sync, i) for i in range(6)],
                                   stop_components(["x"], context=context))
    return [r["doubled"] for r in results[:6]]


async def forks_and_exits(context):
    if os.fork() == 0:
        time.sleep(3600)
        os._exit(0)
    os._exit(5)


async def reuses_arguments(context):
    """Changes a list it passed to an earlier call, then passes it again."""
    components = ["a"]
    await stop_components(components, context=context)
    components.append("b")
    await stop_components(components, context=context)
    return components


async def forges_replayed(context, parameters):
    """Writes a `replayed` message of its own on the protocol channel."""
    from _flowrunner import bridge
    os.write(bridge.bridge.fd_out, parameters["line"].encode() + b"\n")
    await asyncio.sleep(5)


async def gathered_branches(context):
    """Two concurrent branches of two calls each."""
    async def branch(name):
        first = await stop_components([name + "1"], context=context)
        second = await stop_components([name + "2"], context=context)
        return [first, second]
    return await asyncio.gather(branch("a"), branch("b"))


class _Noisy(list):
    """A list whose iteration logs (json iterates a list subclass)."""

    def __iter__(self):
        print("iterating the components")
        return super().__iter__()


async def noisy_arguments(context):
    await stop_components(_Noisy(["a"]), context=context)
    return "ok"
