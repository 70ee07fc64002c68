"""Batching across requests: concurrent requests' sentences decoded together, in one worker thread.

A request hands its sentences to `Batcher.translate` and awaits them. One asyncio task gathers
the waiting requests that share decoding options until `max_batch` sentences are waiting or the
oldest has waited `max_wait_ms`, then runs the (blocking) translate function on them in a single
worker thread: TensorFlow decodes a batch of 64 sentences several times faster than 64 sentences
one by one, and one thread keeps the model's calls in order. The queue is bounded (`max_queue`
sentences): past it a request is refused at once (`Overloaded`) rather than left waiting behind
minutes of work. A request cancelled while it waits (its client went away) is dropped unread.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


class Overloaded(RuntimeError):
    """More sentences are waiting than the queue holds; the client should retry later."""


class Closed(RuntimeError):
    """The batcher is shutting down and takes no new work."""


@dataclass
class _Job:
    sentences: Sequence[str]
    options: Hashable  # only jobs with equal options share a batch
    future: asyncio.Future = field(repr=False)


class Batcher:
    """`await batcher.translate(sentences, options)` -> `translate_fn(sentences, options)`'s list,
    computed in a batch with other requests' sentences. Start it with `start()` inside the event
    loop, stop it with `await close()`."""

    def __init__(self, translate_fn: Callable[[list[str], Hashable], list], *, max_batch: int = 64, max_wait_ms: float = 5.0, max_queue: int = 4096):
        if max_batch < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be at least 1, max_wait_ms at least 0")
        self.translate_fn, self.max_batch, self.max_wait = translate_fn, max_batch, max_wait_ms / 1000
        self.max_queue = max_queue
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # sentences per call -> calls
        self._pending: collections.deque[_Job] = collections.deque()
        self._queued = 0  # sentences in _pending
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="nmt-translate")
        self._task: asyncio.Task | None = None
        self._closed = False

    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="nmt-batcher")

    async def close(self) -> None:
        """Refuse new work, finish what is queued, stop the worker."""
        self._closed = True
        while self._pending and self._task and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def translate(self, sentences: Sequence[str], options: Hashable = None) -> list:
        if self._closed:
            raise Closed("the server is shutting down")
        if not sentences:
            return []
        if self._queued + len(sentences) > self.max_queue:
            raise Overloaded(f"the server is busy ({self._queued} sentences waiting, at most {self.max_queue}); retry later")
        job = _Job(list(sentences), options, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._queued += len(job.sentences)
        self._wake.set()
        return await job.future  # cancelling the request cancels the future: the worker skips it

    async def run_in_worker(self, fn: Callable, *args):
        """Run `fn(*args)` in the translating thread (e.g. a warm-up), between batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            options, deadline = self._pending[0].options, loop.time() + self.max_wait
            while self._waiting(options) < self.max_batch and (left := deadline - loop.time()) > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except TimeoutError:
                    break
            jobs = self._take(options)
            if not jobs:
                continue
            sentences = [s for job in jobs for s in job.sentences]
            self.batch_sizes[len(sentences)] += 1
            try:
                results = await loop.run_in_executor(self._executor, self.translate_fn, sentences, options)
            except Exception as e:  # noqa: BLE001 - handed to every request of the batch
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(e)
                continue
            start = 0
            for job in jobs:
                if not job.future.done():  # cancelled while its batch ran
                    job.future.set_result(results[start : start + len(job.sentences)])
                start += len(job.sentences)

    def _waiting(self, options) -> int:
        return sum(len(j.sentences) for j in self._pending if j.options == options and not j.future.done())

    def _take(self, options) -> list[_Job]:
        """Remove and return the oldest live jobs with these options, up to max_batch sentences
        (at least one job, however large); drop cancelled jobs on the way."""
        taken, size, keep = [], 0, collections.deque()
        while self._pending:
            job = self._pending.popleft()
            if job.future.done():
                self._queued -= len(job.sentences)
            elif job.options == options and (not taken or size + len(job.sentences) <= self.max_batch):
                taken.append(job)
                size += len(job.sentences)
                self._queued -= len(job.sentences)
            else:
                keep.append(job)
        self._pending = keep
        return taken
