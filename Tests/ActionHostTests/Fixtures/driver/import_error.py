import definitely_not_a_module

async def action(context):
    pass
