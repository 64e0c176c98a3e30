"""Child process of the download SIGKILL test: downloads one URL into a folder, then exits.

Usage: python tests/reliability/_download_child.py URL FOLDER
The test kills it with SIGKILL while the body is still arriving.
"""

from __future__ import annotations

import asyncio
import sys

from aimusic_async import AIMusicClient


async def main(url: str, folder: str) -> int:
    # The API itself is never called: only the client's download path is exercised.
    async with AIMusicClient(api_key="sk-child-download", base_url="http://127.0.0.1:9") as client:
        await client.download(url, folder + "/")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
