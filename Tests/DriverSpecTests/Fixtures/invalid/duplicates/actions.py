async def smoke(context):
    pass
