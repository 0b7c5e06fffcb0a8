"""State of the run the host executes: shared by the prefect layer and
styrmin_backend.actions."""

flow_run = {"id": None, "name": None, "parameters": {}}


def serializable_arguments(arguments):
    """Task arguments as JSON-friendly data; the deployment context is
    replaced by a marker (it is frozen per run, so not part of the digest)."""
    from styrmin_backend.actions import GlobalContext

    def convert(value):
        if isinstance(value, GlobalContext):
            return {"$context": True}
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value

    return convert(arguments)
