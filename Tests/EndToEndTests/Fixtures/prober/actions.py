# Tries every door from action code to the engine and prints one line per
# door: "DOOR <name> open <detail>" or "DOOR <name> closed". The test reads
# the lines from the run's log; the upgrade itself goes on through primitives.
import glob
import os
import sqlite3

from prefect import flow
from styrmin_backend.actions import start_components, stop_components, upgrade_deployment_version


def door(name, attempt):
    try:
        detail = attempt()
    except (OSError, sqlite3.Error) as error:
        print("DOOR", name, "closed", type(error).__name__)
        return
    if detail:
        print("DOOR", name, "open", repr(detail)[:200])
    else:
        print("DOOR", name, "closed", "nothing there")


def read(path, size=200):
    with open(path, "rb") as handle:
        return handle.read(size)


def engine_descriptors(engine):
    return [os.readlink(fd) for fd in glob.glob("/proc/%d/fd/*" % engine)] or os.listdir("/proc/%d/fd" % engine)


def own_descriptors():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.endswith((".sqlite", ".sqlite-wal", ".sqlite-shm")) or "kubeconfig" in target:
            found.append(target)
    return found


def open_database(path):
    connection = sqlite3.connect("file:%s?mode=rw" % path, uri=True, timeout=1)
    return connection.execute("select count(*) from runs").fetchall()


def state_directory_files(directory):
    # The mount points leading to the driver files may show; files may not.
    return [name for name in os.listdir(directory) if not os.path.isdir(os.path.join(directory, name))]


def files_near_cwd():
    found, directory = [], os.getcwd()
    for _ in range(4):
        for candidate in glob.glob(os.path.join(directory, "*")):
            if candidate.endswith(".sqlite"):
                found.append(candidate)
        directory = os.path.dirname(directory)
    return found


def write_driver_directory():
    with open(os.path.join(os.getcwd(), "planted.py"), "w") as handle:
        handle.write("x = 1\n")
    return "wrote planted.py"


def open_memory(engine):
    with open("/proc/%d/mem" % engine, "rb"):
        return "opened"


def signal_engine(engine):
    os.kill(engine, 0)
    return "may signal pid %d" % engine


@flow
async def upgrade(context, target_version, state: str = "", kubeconfig: str = ""):
    await stop_components(components=["web"], context=context)
    engine = os.getppid()
    door("engine-environ", lambda: read("/proc/%d/environ" % engine))
    door("engine-descriptors", lambda: engine_descriptors(engine))
    door("engine-memory", lambda: open_memory(engine))
    door("engine-signal", lambda: signal_engine(engine))
    if state:  # a SQLite state file (a PostgreSQL state has no file to try)
        door("state-file", lambda: read(state))
        door("state-database", lambda: open_database(state))
        door("state-directory", lambda: state_directory_files(os.path.dirname(state)))
    door("kubeconfig", lambda: read(kubeconfig))
    door("inherited-descriptors", own_descriptors)
    door("files-near-working-directory", files_near_cwd)
    door("driver-directory-write", write_driver_directory)
    door("own-environment", lambda: sorted(k for k in os.environ if "TOKEN" in k or "SECRET" in k or k.startswith(("FLOWRUNNER_STATE", "KUBECONFIG", "PG"))))
    print("PROBE uid", os.getuid())
    await upgrade_deployment_version(target_version=target_version, context=context)
    await start_components(components=["web"], context=context)
