"""kube_double: an in-memory test double of the Kubernetes API server.

Written from the Kubernetes API reference (API conventions, Status objects,
watch semantics, garbage collection) for FlowRunner's tests. Standard library
only. The entry point is ``kube_test_server.py`` one directory up.
"""

__all__ = ["errors", "resources", "selectors", "patching", "store",
           "simulation", "charts", "controllers", "testing_api", "server", "certs"]
