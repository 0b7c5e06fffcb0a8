"""An upgrade that logs many lines while it runs (log streaming tests)."""
import time

from prefect import flow, get_run_logger
from styrmin_backend.actions import upgrade_deployment_version


@flow
async def upgrade(context, target_version, parameters):
    logger = get_run_logger()
    for number in range(parameters["lines"]):
        logger.info("line %d of %d", number + 1, parameters["lines"])
        time.sleep(parameters["pause_ms"] / 1000.0)
    await upgrade_deployment_version(target_version, context=context)
