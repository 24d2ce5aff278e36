"""Running a coroutine from test and benchmark code.

Playwright's sync API keeps an event loop running on the calling thread for as long as a
browser is open, and any browser test that ran earlier in the same pytest worker leaves it
so. asyncio allows one running loop per thread, so a bare ``asyncio.run`` there raises
"cannot be called from a running event loop" (it happened: test_load failed in CI only,
after a browser test in its worker). ``run_async`` is the one way in; ruff bans a bare
``asyncio.run`` everywhere else (TID251 in pyproject.toml).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``work`` to its end on a fresh event loop in a thread of its own, within
    ``timeout`` seconds if given (``TimeoutError`` after)."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await work

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-async") as pool:
        return pool.submit(asyncio.run, bounded()).result()  # noqa: TID251
