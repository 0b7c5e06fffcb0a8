"""prefect.runtime: flow_run only."""
from prefect.runtime import flow_run

__all__ = ["flow_run"]
