"""Lifecycle actions of the backup-app driver.

setup:   (built-in install) -> post initialise, check-backup-volume
upgrade: pre backup-before-upgrade -> core upgrade -> post verify-upgrade
backup:  (built-in: audit-db's pg_dump and snapshot) -> core backup-database
restore: (built-in: stop server, audit-db's restore) -> core restore-database -> (built-in: start server)

`backup_database` is the custom backup logic that `backup.kind: action` of
the `database` component points at; the pre-upgrade backup uses the same
commands, so an upgrade always starts from a restorable dump.
"""
from styrmin_backend.actions import (
    CommandFailed,
    GlobalContext,
    execute_commands,
    get_component_images,
    get_deployment_version,
    start_components,
    stop_components,
    upgrade_deployment_version,
    wait_for_components,
)
from prefect import flow, get_run_logger, task

DATABASE = "database"


@task
def dump_commands(directory: str, name: str, version: str, keep: int) -> list:
    """Commands that dump the main database to DIRECTORY/NAME-VERSION.sql,
    check it, write its checksum and keep the newest KEEP dumps of NAME."""
    dump = "%s/%s-%s.sql" % (directory, name, version)
    return [
        "mkdir -p %s" % directory,
        'pg_dump --no-owner --no-privileges --dbname="$PGDATABASE" > %s.partial' % dump,
        "test -s %s.partial" % dump,
        "mv %s.partial %s" % (dump, dump),
        "sha256sum %s > %s.sha256" % (dump, dump),
        "ls -1t %s/%s-*.sql | tail -n +%d | xargs -r rm -f --" % (directory, name, max(keep, 1) + 1),
    ]


async def _dump(context, version, keep):
    """Runs the dump in a job with the database component's image and environment."""
    logger = get_run_logger()
    settings = context.components[DATABASE].backup
    directory = settings.get("directory", "/backups")
    images = await get_component_images(component=DATABASE, context=context)
    commands = dump_commands(directory, context.deployment.name, version, keep)
    try:
        await execute_commands(
            commands,
            image=images[0],
            env_from_component=DATABASE,
            labels_from_component=DATABASE,
            timeout=3600,
            context=context,
        )
    except CommandFailed as error:
        logger.error("Backup failed at %r (exit %s):\n%s", error.command, error.exit_code, error.output)
        raise
    path = "%s/%s-%s.sql" % (directory, context.deployment.name, version)
    logger.info("Backed up %s %s to %s (keeping %d dumps)", context.deployment.name, version, path, keep)
    return path


@flow
async def backup_database(context: GlobalContext, backup_id: int = None, keep_backups: int = 5):
    """The `database` component's custom backup (backup.kind: action, the
    backup hook's core): DIRECTORY/NAME-bID.sql for backup ID."""
    if backup_id is None:
        version = await get_deployment_version(context=context)
        return await _dump(context, version, keep_backups)
    return await _dump(context, "b%d" % backup_id, keep_backups)


@flow
async def restore_database(context: GlobalContext, backup_id: int):
    """The way back (the restore hook's core): checks the dump of backup ID
    against its checksum and loads it into the main database."""
    logger = get_run_logger()
    directory = context.components[DATABASE].backup.get("directory", "/backups")
    dump = "%s/%s-b%d.sql" % (directory, context.deployment.name, backup_id)
    images = await get_component_images(component=DATABASE, context=context)
    await execute_commands(
        [
            "sha256sum -c %s.sha256" % dump,
            'psql --single-transaction --dbname="$PGDATABASE" --file=%s' % dump,
        ],
        image=images[0],
        env_from_component=DATABASE,
        labels_from_component=DATABASE,
        timeout=3600,
        context=context,
    )
    logger.info("Restored %s from %s", context.deployment.name, dump)
    return dump


# --- setup (post, after the built-in install) -----------------------------


@flow
async def initialise(context: GlobalContext, target_version: str, admin_email: str = "admin@example.com"):
    """Creates the schema and the first admin user in the server's image."""
    logger = get_run_logger()
    await wait_for_components(components=["server", DATABASE, "audit-db"], timeout=600, context=context)
    await execute_commands(
        [
            "backup-app migrate --wait-for-db 120",
            "backup-app users create-admin --email %s --if-missing" % admin_email,
        ],
        env_from_component="server",
        labels_from_component="server",
        context=context,
    )
    logger.info("Initialised %s %s; admin user %s", context.deployment.name, target_version, admin_email)


@flow
async def check_backup_volume(context: GlobalContext):
    """Checks that the database pod's backup volume is mounted and writable."""
    logger = get_run_logger()
    directory = context.components[DATABASE].backup.get("directory", "/backups")
    await execute_commands(
        ["test -d %s" % directory, "touch %s/.write-test" % directory, "rm -f %s/.write-test" % directory],
        env_from_component=DATABASE,
        context=context,
    )
    logger.info("%s is writable; backups of the main database go there", directory)


# --- upgrade --------------------------------------------------------------


@flow
async def backup_before_upgrade(context: GlobalContext, target_version: str, keep_backups: int = 5):
    """Dumps the main database before anything changes; a failed dump stops the upgrade."""
    logger = get_run_logger()
    installed = await get_deployment_version(context=context)
    logger.info("Backing up %s %s before the upgrade to %s", context.deployment.name, installed, target_version)
    await _dump(context, installed, keep_backups)


@flow
async def upgrade(context: GlobalContext, current_version: str, target_version: str):
    """Stops the server, upgrades the app version, migrates in the new image, starts the server."""
    logger = get_run_logger()
    await stop_components(components=["server"], context=context)
    await upgrade_deployment_version(target_version=target_version, context=context)
    images = await get_component_images(component="server", context=context)
    image = next(img for img in images if "backup-app" in img)
    await execute_commands(
        ["backup-app migrate --from %s" % current_version],
        image="%s:%s" % (image.rsplit(":", 1)[0], target_version),
        env_from_component="server",
        labels_from_component="server",
        timeout=1800,
        context=context,
    )
    await start_components(components=["server"], context=context)
    logger.info("Upgraded %s from %s to %s", context.deployment.name, current_version, target_version)


@flow
async def verify_upgrade(context: GlobalContext, target_version: str):
    """Checks that the new version runs and that its schema is complete."""
    logger = get_run_logger()
    running = await get_deployment_version(context=context)
    if running != target_version:
        raise RuntimeError("expected version %s after the upgrade, the deployment runs %s" % (target_version, running))
    await wait_for_components(components=["server", DATABASE, "audit-db"], timeout=300, context=context)
    fqdn = context.services["web"].primary_fqdn
    await execute_commands(
        ["backup-app migrate --check", "curl -fsS --max-time 10 http://%s/healthz" % fqdn],
        env_from_component="server",
        labels_from_component="server",
        context=context,
    )
    logger.info("%s runs %s; schema up to date; http://%s is healthy", context.deployment.name, running, fqdn)
