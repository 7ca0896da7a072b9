"""Send planned batches concurrently, splitting any batch the API finds too large."""

import asyncio
import concurrent.futures
import logging

from ._errors import BadRequestError
from ._response import is_limit_error

__all__ = ["fetch_batches", "run_coroutine"]

logger = logging.getLogger("sklearn_mistral")


async def fetch_batches(client, texts, batches, on_batch):
    """Embed ``texts`` batch by batch, calling ``on_batch(positions, vectors, n_tokens)``.

    ``on_batch`` runs as soon as each batch returns, so a later failure or a Ctrl-C
    loses nothing that has arrived. On the first unrecoverable error the batches still
    in flight are cancelled and that error is raised.
    """

    async def send(positions):
        try:
            vectors, n_tokens = await client.embed([texts[i] for i in positions])
        except BadRequestError as error:
            if not is_limit_error(error) or len(positions) < 2:
                # Kept so that the caller can name the input rows the error is about.
                error.batch_positions = list(positions)
                raise
            # The limit guess was wrong for this batch: halves always get smaller.
            logger.warning(
                "the API rejected a batch of %d texts as too large (%s); sending it in halves",
                len(positions), error.message,
            )
            middle = len(positions) // 2
            # A task group, unlike gather, cancels the other half when one half fails.
            async with asyncio.TaskGroup() as halves:
                halves.create_task(send(positions[:middle]))
                halves.create_task(send(positions[middle:]))
            return
        on_batch(positions, vectors, n_tokens)

    try:
        async with asyncio.TaskGroup() as group:
            for positions in batches:
                group.create_task(send(positions))
    except BaseExceptionGroup as group_error:
        raise _first_error(group_error) from None


def _first_error(group_error):
    error = group_error.exceptions[0]
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def run_coroutine(make_coroutine):
    """Run ``make_coroutine()`` to completion from synchronous code.

    Inside a running event loop (Jupyter, an async web app) the coroutine runs on a
    private loop in a worker thread, because ``asyncio.run`` cannot nest.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    return _run_in_thread(make_coroutine)


def _run_in_thread(make_coroutine):
    """Run the coroutine on a new loop in a worker thread; cancel it if the wait is interrupted."""
    started = concurrent.futures.Future()

    async def main():
        started.set_result((asyncio.get_running_loop(), asyncio.current_task()))
        return await make_coroutine()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sklearn-mistral") as pool:
        outcome = pool.submit(asyncio.run, main())
        try:
            return outcome.result()
        except BaseException:
            # A Ctrl-C raises KeyboardInterrupt in this thread only. Cancel the run so
            # that leaving the pool waits for it to stop, not for every batch to finish.
            if not outcome.done():
                loop, task = started.result()
                loop.call_soon_threadsafe(task.cancel)
            raise
