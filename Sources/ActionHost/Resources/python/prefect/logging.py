"""prefect.logging: get_run_logger only."""
from prefect import get_run_logger

__all__ = ["get_run_logger"]
