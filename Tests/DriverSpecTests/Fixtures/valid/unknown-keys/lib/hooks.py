import asyncio

drain = None


async def drain(context):
    await asyncio.sleep(0)
