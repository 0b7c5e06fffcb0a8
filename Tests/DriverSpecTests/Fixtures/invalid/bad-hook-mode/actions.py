async def backup(context):
    pass


async def migrate(context):
    pass
