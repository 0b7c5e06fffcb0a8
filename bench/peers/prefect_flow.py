#!/usr/bin/env python3
"""The my-app upgrade flow as a plain Prefect 3 flow, for the peer comparison.

Run with the interpreter of the peers virtualenv (see run_peers.py), in
Prefect's default local mode: no PREFECT_API_URL, so Prefect starts its own
ephemeral API on its local SQLite database (~/.prefect by default).

Modes (one per process):
  five                 the five-step upgrade flow of actions-examples/my-app,
                       each primitive replaced by a @task with a trivial body
                       returning the small dict the primitive returns;
                       measured from outside as whole-process wall time and RSS.
  steps N              one warm-up flow (so the ephemeral API's start-up is not
                       counted), then a flow of N trivial tasks, timed around
                       the flow call; prints {"steps", "total_ms", "per_step_ms"}.
  retry COUNTER MARKER a five-step flow with `retries=1` that fails right after
                       step 3 while MARKER exists (and removes it), so the flow
                       retry succeeds; every task body appends its name to
                       COUNTER, which the caller reads to see whether steps 1-3
                       ran again on the retry.
"""
import asyncio
import json
import os
import sys
import time

from prefect import flow, task

COUNTER = None  # file each task body appends its name to (retry mode only)


def record(name):
    if COUNTER is not None:
        with open(COUNTER, "a") as handle:
            handle.write(name + "\n")


# The five primitives of the seed flow, with trivial bodies.

@task
async def stop_components(components):
    record("stop_components")
    return {"stopped": list(components), "already_stopped": []}


@task
async def upgrade_deployment_version(target_version):
    record("upgrade_deployment_version")
    return {"previous": "0.1.0", "version": target_version, "changed": True}


@task
async def get_component_images(component):
    record("get_component_images")
    return ["registry.example.com/my-app:0.1.0", "envoy:1.29"]


@task
async def execute_commands(commands, image):
    record("execute_commands")
    return {"job": "my-app-upgrade-1", "adopted": False, "image": image,
            "exit_codes": [0 for _ in commands], "output": "", "results": []}


@task
async def start_components(components):
    record("start_components")
    return {"started": list(components), "already_running": []}


async def upgrade_body(target_version, fail_marker=None):
    """The seed flow's body (actions-examples/my-app/actions.py), step for step."""
    await stop_components(components=["server"])
    await upgrade_deployment_version(target_version=target_version)
    images = await get_component_images(component="server")
    if fail_marker is not None and os.path.exists(fail_marker):
        os.remove(fail_marker)
        raise RuntimeError("injected failure after step 3")
    image = next(img for img in images if "my-app" in img)
    image_base = image.rsplit(":", 1)[0]
    await execute_commands(["my-app-upgrade"], image=f"{image_base}:{target_version}")
    await start_components(components=["server"])
    return {"version": target_version}


@flow
async def upgrade(target_version: str):
    return await upgrade_body(target_version)


@flow(retries=1, retry_delay_seconds=0)
async def upgrade_with_retry(target_version: str, fail_marker: str):
    return await upgrade_body(target_version, fail_marker)


@task
async def trivial(index: int):
    return {"index": index}


@flow
async def many_steps(count: int):
    for index in range(count):
        await trivial(index)
    return count


def main(argv):
    global COUNTER
    mode = argv[1] if len(argv) > 1 else "five"
    if mode == "five":
        asyncio.run(upgrade("0.2.0"))
    elif mode == "steps":
        count = int(argv[2]) if len(argv) > 2 else 200

        async def measure():
            await many_steps(1)  # warm-up: starts the ephemeral API
            start = time.perf_counter()
            await many_steps(count)
            return (time.perf_counter() - start) * 1000

        total = asyncio.run(measure())
        print(json.dumps({"steps": count, "total_ms": total, "per_step_ms": total / count}))
    elif mode == "retry":
        COUNTER, marker = argv[2], argv[3]
        asyncio.run(upgrade_with_retry("0.2.0", marker))
    else:
        sys.exit("usage: prefect_flow.py five | steps N | retry COUNTER MARKER")


if __name__ == "__main__":
    main(sys.argv)
