async def upgrade(context):
    pass
