"""Actions.

def migrate(context):  -- only in a docstring, so not defined
"""
from prefect import flow


@flow
async def upgrade(context, target_version):
    def migrate():  # nested, not top level
        pass
    return 1
