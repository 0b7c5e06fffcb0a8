"""Drives a running `flowrunner serve` through a Python client that
openapi-python-client generated from its /v1/openapi.json without edits.

    python openapi_client_check.py BASE_URL TOKEN CLIENT_DIR DRIVER_ARCHIVE

Uploads the driver archive, creates a deployment (setup hook), triggers an
upgrade with an Idempotency-Key, waits for the run and reads it back, every
call and every answer through the generated functions and models. Prints
"ok" and the run's id, or raises.
"""
import io
import sys
import time

base_url, token, client_dir, archive = sys.argv[1:5]
sys.path.insert(0, client_dir)

from flow_runner_runner_service_client import AuthenticatedClient  # noqa: E402
from flow_runner_runner_service_client.api.default import (  # noqa: E402
    create_deployment, list_runs, run_hook, show_run, upload_driver,
)
from flow_runner_runner_service_client.models import (  # noqa: E402
    CreateDeploymentBody, DriverVersion, RunEnvelope, RunHookBody, RunReport,
)
from flow_runner_runner_service_client.models.run_hook_hook import RunHookHook  # noqa: E402
from flow_runner_runner_service_client.types import File  # noqa: E402

client = AuthenticatedClient(base_url=base_url, token=token, timeout=60)

with open(archive, "rb") as handle:
    loaded = upload_driver.sync_detailed(client=client, body=File(payload=io.BytesIO(handle.read())))
assert loaded.status_code == 201 and isinstance(loaded.parsed, DriverVersion), (loaded.status_code, loaded.content)
assert loaded.parsed.name == "testbed", loaded.parsed

created = create_deployment.sync_detailed(client=client, body=CreateDeploymentBody(name="shop", driver="testbed", app_version="1.0.0"))
assert created.status_code == 202, (created.status_code, created.content)


def wait(run_id):
    for _ in range(1200):
        report = show_run.sync(run_id, client=client)
        assert isinstance(report, RunReport), report
        if report.status in ("succeeded", "failed", "cancelled"):
            return report
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end")


assert wait(created.parsed.run.id).status == "succeeded"
body = RunHookBody(target_version="1.1.0")
first = run_hook.sync_detailed("shop", RunHookHook.UPGRADE, client=client, body=body, idempotency_key="upgrade-1")
again = run_hook.sync_detailed("shop", RunHookHook.UPGRADE, client=client, body=body, idempotency_key="upgrade-1")
assert first.status_code == 202 and isinstance(first.parsed, RunEnvelope), (first.status_code, first.content)
assert again.parsed.run.id == first.parsed.run.id, "the same key gives the same run"
report = wait(first.parsed.run.id)
assert report.status == "succeeded" and report.hook == "upgrade", report
assert [step.name for step in report.actions[0].steps][:2] == ["stop_components", "execute_commands"], report.actions
page = list_runs.sync(client=client, deployment="shop")
assert [run.id for run in page.runs] == [first.parsed.run.id, created.parsed.run.id], page
print("ok", report.id)
