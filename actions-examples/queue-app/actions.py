"""Lifecycle actions of the queue-app driver.

setup:   pre check-parameters, check-database -> (built-in install) -> post seed-data, install-smoke-test
upgrade: pre check-upgrade-path, drain-workers -> core migrate -> post restart-workers, smoke-test

Every primitive call is a checkpointed step: on a retry the action runs from
the top and the calls that already succeeded are replayed, so each action
makes the same calls in the same order for the same inputs.
"""
import re

from styrmin_backend.actions import (
    CommandFailed,
    GlobalContext,
    execute_commands,
    get_component_images,
    get_deployment_version,
    restart_components,
    start_components,
    stop_components,
    upgrade_deployment_version,
    wait_for_components,
)
from prefect import flow, get_run_logger, task

API_REPOSITORY = "queue-app-api"
QUEUES = ["default", "emails"]
SMOKE_TEST_IMAGE = "curlimages/curl:8.8.0"


def _release(version):
    """(major, minor, patch) of a version such as 2.4.0 or v2.4.0-rc.1."""
    numbers = [int(part) for part in re.findall(r"\d+", version or "")[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def _image_base(images, repository):
    """The repository part of the component image named `repository`."""
    image = next((img for img in images if repository in img), None)
    if image is None:
        raise RuntimeError("no %s image among %s" % (repository, images))
    return image.rsplit(":", 1)[0]


@task
def migration_commands(current_version: str, target_version: str, log_level: str) -> list:
    """The commands of the schema migration, in order (a checkpointed step)."""
    commands = [
        "queue-app db check-connection --timeout 60",
        "queue-app db upgrade head --log-level %s" % log_level,
    ]
    if _release(target_version)[:2] != _release(current_version)[:2]:
        # A minor or major release may change the job payload format.
        commands.append("queue-app jobs reencode --from %s --to %s" % (current_version, target_version))
    commands.append("queue-app db verify-schema")
    return commands


# --- setup ------------------------------------------------------------------


@flow
async def check_parameters(context: GlobalContext, worker_replicas: int = 2, log_level: str = "info"):
    """Refuses a worker count the chart cannot schedule; nothing is installed yet."""
    logger = get_run_logger()
    if not 1 <= worker_replicas <= 20:
        raise ValueError("worker_replicas must be between 1 and 20, got %d" % worker_replicas)
    logger.info("Installing %s with %d worker replica(s), log level %s",
                context.deployment.name, worker_replicas, log_level)


@flow
async def check_database(context: GlobalContext, target_version: str, log_level: str = "info"):
    """Checks the database settings with the image about to be installed."""
    logger = get_run_logger()
    installed = await get_deployment_version(context=context)
    if installed is not None:
        logger.warning("%s is already installed at %s; setup will converge it", context.deployment.name, installed)
    # Nothing is installed yet, so the image is named, not taken from a pod.
    await execute_commands(
        ["queue-app db check-config --database queue_app"],
        image="%s:%s" % (API_REPOSITORY, target_version),
        env_from_component="api",
        env={"LOG_LEVEL": log_level},
        context=context,
    )
    logger.info("Database settings of %s are valid", target_version)


@flow
async def seed_data(context: GlobalContext, target_version: str, seed_demo_jobs: bool = False):
    """Creates the schema and the job queues; optionally enqueues demo jobs."""
    logger = get_run_logger()
    commands = ["queue-app db upgrade head", "queue-app db seed --if-empty"]
    commands += ["queue-app queues ensure %s" % queue for queue in QUEUES]
    if seed_demo_jobs:
        commands.append("queue-app jobs enqueue-demo --count 10")
    images = await get_component_images(component="api", context=context)
    result = await execute_commands(
        commands,
        image="%s:%s" % (_image_base(images, API_REPOSITORY), target_version),
        env_from_component="api",
        labels_from_component="api",
        context=context,
    )
    logger.info("Seeded %s (%d commands, job %s)", target_version, len(commands), result["job"])


# --- upgrade ----------------------------------------------------------------


@flow
async def check_upgrade_path(context: GlobalContext, current_version: str, target_version: str):
    """Refuses a downgrade: migrations only go forward."""
    logger = get_run_logger()
    installed = await get_deployment_version(context=context)
    if installed != current_version:
        logger.warning("the cluster runs %s, the deployment record says %s", installed, current_version)
    if _release(target_version) < _release(installed):
        raise ValueError("refusing to downgrade %s from %s to %s" % (context.deployment.name, installed, target_version))
    logger.info("Upgrade path %s -> %s is allowed", installed, target_version)


@flow
async def drain_workers(context: GlobalContext):
    """Stops the workers so that no job runs while the schema changes.
    Queued jobs stay in Redis and are picked up by restart-workers."""
    logger = get_run_logger()
    await stop_components(components=["worker"], context=context)
    images = await get_component_images(component="queue", context=context)
    result = await execute_commands(
        ['redis-cli -u "$REDIS_URL" LLEN queue-app:%s' % queue for queue in QUEUES],
        image=images[0],
        env_from_component="worker",
        context=context,
    )
    logger.info("Workers stopped; pending jobs per queue (%s): %s",
                ", ".join(QUEUES), result["output"].replace("\n", ", ") or "unknown")


@flow
async def migrate(context: GlobalContext, current_version: str, target_version: str, log_level: str = "info"):
    """Stops the API, upgrades the app version, runs the migration in the new image, starts the API."""
    logger = get_run_logger()
    await stop_components(components=["api"], context=context)
    await upgrade_deployment_version(target_version=target_version, context=context)
    images = await get_component_images(component="api", context=context)
    image = "%s:%s" % (_image_base(images, API_REPOSITORY), target_version)
    commands = migration_commands(current_version, target_version, log_level)
    logger.info("Migrating %s -> %s in %s (%d commands)", current_version, target_version, image, len(commands))
    try:
        await execute_commands(
            commands,
            image=image,
            env_from_component="api",
            labels_from_component="api",
            env={"LOG_LEVEL": log_level},
            timeout=1800,
            context=context,
        )
    except CommandFailed as error:
        logger.error("Migration failed at %r (exit %s); the API and workers stay stopped. Output:\n%s",
                     error.command, error.exit_code, error.output)
        raise
    await start_components(components=["api"], context=context)
    logger.info("API is up on %s", target_version)


@flow
async def restart_workers(context: GlobalContext, worker_replicas: int = 2):
    """Starts the workers again (at their replica count from before the drain)."""
    logger = get_run_logger()
    result = await start_components(components=["worker"], context=context)
    if not result["started"]:
        # Already running (e.g. a retry after this step): restart so they load the new code.
        await restart_components(components=["worker"], context=context)
    await wait_for_components(components=["api", "worker"], timeout=300, context=context)
    logger.info("Workers are consuming again (chart replica hint: %d)", worker_replicas)


# --- both hooks -------------------------------------------------------------


@flow
async def smoke_test(context: GlobalContext, target_version: str):
    """Curls the health and version endpoints through the API's service FQDN."""
    logger = get_run_logger()
    fqdn = context.services["api"].primary_fqdn
    await execute_commands(
        [
            "curl -fsS --retry 10 --retry-delay 3 --retry-connrefused --max-time 10 http://%s/healthz" % fqdn,
            "curl -fsS --max-time 10 http://%s/version | grep -F '\"%s\"'" % (fqdn, target_version),
        ],
        image=SMOKE_TEST_IMAGE,
        context=context,
    )
    logger.info("http://%s serves %s and is healthy", fqdn, target_version)
