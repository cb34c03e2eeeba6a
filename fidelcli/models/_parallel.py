"""Threads of the models' vectorised work: BLAS pinned to one thread, large evaluations split in two.

Internal to `fidelcli.models` (the model modules import it; nothing outside the package does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

BLOCK_ROWS = 32_768  # rows per block of the predictions over a horizon (several steps per row)

# Above this many rows, vectorised evaluations are split in two halves run on two threads (NumPy and
# SciPy ufuncs release the GIL); below it the thread overhead is not worth it.
CHUNK_ROWS = 50_000
_T = TypeVar("_T")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS (NumPy's dot products, L-BFGS-B's updates) on one thread inside the block.

    The models' large vectorised work is already split over two threads (`run_chunked`); BLAS
    threads on top of it only add wake-up costs to many tiny calls, which made the fits more than
    twice as slow (docs/performance.md has the measurements).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run_chunked(work: Callable[[slice], _T], n: int) -> list[_T]:
    """`work` on two halves of range(n) in parallel threads when n is large, else on all of it.

    Returns the results in row order (one or two of them).
    """
    if n < CHUNK_ROWS:
        return [work(slice(0, n))]
    from concurrent.futures import ThreadPoolExecutor

    half = n // 2
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(work, (slice(0, half), slice(half, n))))
