#!/usr/bin/env python3
"""The my-app upgrade flow as a DBOS Transact (Python) workflow, for the peer comparison.

Run with the interpreter of the peers virtualenv (see run_peers.py). DBOS keeps
its checkpoints in its default SQLite system database, configured with a sqlite
URL in a directory of its own: a fresh temporary one per process unless the
caller passes --dir (the crash modes share one directory across two processes).
The steps and the workflow are `async def`, like the seed action
(actions-examples/my-app/actions.py).

Modes (one per process):
  five                    the five-step upgrade flow, each primitive a
                          @DBOS.step() with a trivial body returning the small
                          dict the primitive returns, in one @DBOS.workflow();
                          measured from outside as whole-process wall time and RSS.
  steps N                 one warm-up workflow, then a workflow of N trivial
                          steps, timed around the workflow call; prints
                          {"steps", "total_ms", "per_step_ms"}.
  retry COUNTER MARKER    the five-step workflow fails right after step 3 while
                          MARKER exists (and removes it): status ERROR. DBOS
                          does not retry a workflow that raised, so it is
                          retried the way DBOS offers, DBOS.fork_workflow from
                          the first step that has no checkpoint; every step
                          body appends its name to COUNTER for the caller.
  crash --dir D COUNTER   starts workflow "crash-wf" of 10 steps; step 5 writes
                          "step-5 sleeping" to COUNTER and sleeps, waiting for
                          the caller's SIGKILL.
  recover --dir D COUNTER launches DBOS on D (launch recovers pending workflows),
                          waits for "crash-wf" and prints {"done_at": epoch
                          seconds when its result was observed}. Step 5 does
                          not sleep in this process.
"""
import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time

from dbos import DBOS, DBOSConfig, SetWorkflowID

COUNTER = None          # file each step body appends its name to (retry and crash modes)
SLEEP_IN_STEP_5 = False  # crash mode: step 5 blocks until the process is killed
CRASH_WORKFLOW_ID = "crash-wf"
CRASH_STEPS = 10


def record(name):
    if COUNTER is not None:
        with open(COUNTER, "a") as handle:
            handle.write(name + "\n")


# The five primitives of the seed flow, with trivial bodies.

@DBOS.step()
async def stop_components(components):
    record("stop_components")
    return {"stopped": list(components), "already_stopped": []}


@DBOS.step()
async def upgrade_deployment_version(target_version):
    record("upgrade_deployment_version")
    return {"previous": "0.1.0", "version": target_version, "changed": True}


@DBOS.step()
async def get_component_images(component):
    record("get_component_images")
    return ["registry.example.com/my-app:0.1.0", "envoy:1.29"]


@DBOS.step()
async def execute_commands(commands, image):
    record("execute_commands")
    return {"job": "my-app-upgrade-1", "adopted": False, "image": image,
            "exit_codes": [0 for _ in commands], "output": "", "results": []}


@DBOS.step()
async def start_components(components):
    record("start_components")
    return {"started": list(components), "already_running": []}


@DBOS.workflow()
async def upgrade(target_version: str, fail_marker: str = ""):
    """The seed flow's body, step for step."""
    await stop_components(components=["server"])
    await upgrade_deployment_version(target_version=target_version)
    images = await get_component_images(component="server")
    if fail_marker and os.path.exists(fail_marker):
        os.remove(fail_marker)
        raise RuntimeError("injected failure after step 3")
    image = next(img for img in images if "my-app" in img)
    image_base = image.rsplit(":", 1)[0]
    await execute_commands(["my-app-upgrade"], image=f"{image_base}:{target_version}")
    await start_components(components=["server"])
    return {"version": target_version}


@DBOS.step()
async def trivial(index: int):
    return {"index": index}


@DBOS.workflow()
async def many_steps(count: int):
    for index in range(count):
        await trivial(index)
    return count


@DBOS.step()
async def crash_step(index: int):
    if index == 5 and SLEEP_IN_STEP_5:
        record("step-5 sleeping")
        await asyncio.sleep(3600)  # the caller kills the process here
    record(f"step-{index}")
    return {"index": index}


@DBOS.workflow()
async def crash_workflow():
    for index in range(1, CRASH_STEPS + 1):
        await crash_step(index)
    return CRASH_STEPS


def launch(directory):
    """DBOS on a SQLite system database in `directory`; launch also recovers pending workflows."""
    config: DBOSConfig = {
        "name": "flowrunner-peer-bench",
        "system_database_url": "sqlite:///" + os.path.join(directory, "dbos.sqlite"),
    }
    DBOS(config=config)
    DBOS.launch()


def main():
    global COUNTER, SLEEP_IN_STEP_5
    parser = argparse.ArgumentParser(description="DBOS peer flows (see the module docstring)")
    parser.add_argument("mode", choices=["five", "steps", "retry", "crash", "recover"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--dir", help="directory of the SQLite system database (default: a fresh temporary one)")
    options = parser.parse_args()

    directory = options.dir or tempfile.mkdtemp(prefix="dbos-peer-")
    try:
        if options.mode in ("retry", "crash", "recover"):
            COUNTER = options.args[0]
        SLEEP_IN_STEP_5 = options.mode == "crash"
        launch(directory)

        if options.mode == "five":
            asyncio.run(upgrade("0.2.0"))
        elif options.mode == "steps":
            count = int(options.args[0]) if options.args else 200

            async def measure():
                await many_steps(1)  # warm-up
                start = time.perf_counter()
                await many_steps(count)
                return (time.perf_counter() - start) * 1000

            total = asyncio.run(measure())
            print(json.dumps({"steps": count, "total_ms": total, "per_step_ms": total / count}))
        elif options.mode == "retry":
            marker = options.args[1]
            with SetWorkflowID("retry-wf"):
                try:
                    asyncio.run(upgrade("0.2.0", marker))
                    sys.exit("the injected failure did not happen")
                except RuntimeError:
                    pass
            # Retry from the first step without a checkpoint (the checkpointed
            # steps' outputs are copied to the fork).
            done = DBOS.list_workflow_steps("retry-wf")
            start_step = max((step["function_id"] for step in done), default=0) + 1
            result = DBOS.fork_workflow("retry-wf", start_step).get_result(polling_interval_sec=0.01)
            print(json.dumps({"forked_from_step": start_step, "result": result}))
        elif options.mode == "crash":
            with SetWorkflowID(CRASH_WORKFLOW_ID):
                asyncio.run(crash_workflow())
            sys.exit("crash mode: the workflow finished without being killed")
        elif options.mode == "recover":
            # Launch has already handed the pending workflow to recovery; wait for it.
            result = DBOS.retrieve_workflow(CRASH_WORKFLOW_ID).get_result(polling_interval_sec=0.005)
            print(json.dumps({"done_at": time.time(), "result": result}), flush=True)
        # No DBOS.destroy(): a script's process just ends once its workflow has
        # returned (its status is already committed). destroy() would add about
        # a second, joining background threads that poll once a second.
    finally:
        if not options.dir:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
