"""Actions in a module that does not use asyncio: the host drives their
coroutines without an event loop."""
from prefect import flow, get_run_logger, task
from styrmin_backend.actions import get_deployment_version, stop_components


@task(retries=1)
async def double(x):
    return x * 2


@flow
async def plain(context, parameters):
    logger = get_run_logger()
    logger.info("plain flow for %s", context.deployment.id)
    version = await get_deployment_version(context=context)
    doubled = await double(21)
    return {"version": version, "doubled": doubled}


async def waits_forever(context, parameters):
    try:
        await stop_components(["stuck"], context=context)
    finally:
        with open(parameters["marker"], "a") as handle:
            handle.write("finally ran\n")
