from prefect import flow


@flow
async def upgrade(context, target_version):
    pass
