"""The request batcher with a stand-in translate function: what it gathers, in what order, what it
refuses, and what it skips."""

import asyncio
import threading

import pytest

from nmt.batching import Batcher, Closed, Overloaded


class Recorder:
    """A translate function that records its calls and can be held until released."""

    def __init__(self):
        self.calls, self.release = [], threading.Event()
        self.release.set()

    def __call__(self, sentences, options):
        self.release.wait(10)
        self.calls.append((list(sentences), options))
        if "boom" in sentences:
            raise RuntimeError("boom")
        return [f"{s}/{options}" for s in sentences]


def run(coro):
    return asyncio.run(coro)


async def started(fn, **kw) -> Batcher:
    b = Batcher(fn, **kw)
    b.start()
    return b


def test_concurrent_requests_with_the_same_options_share_one_call_and_get_their_own_answers():
    async def main():
        fn = Recorder()
        b = await started(fn, max_batch=64, max_wait_ms=50)
        out = await asyncio.gather(*(b.translate([f"s{i}", f"t{i}"], "greedy") for i in range(10)))
        await b.close()
        return fn, b, out

    fn, b, out = run(main())
    assert out == [[f"s{i}/greedy", f"t{i}/greedy"] for i in range(10)]
    assert len(fn.calls) == 1 and b.batch_sizes == {20: 1}


def test_batches_stop_at_max_batch_and_options_never_mix():
    async def main():
        fn = Recorder()
        fn.release.clear()  # hold the first call so that everything else queues up behind it
        b = await started(fn, max_batch=4, max_wait_ms=0)
        first = asyncio.ensure_future(b.translate(["a"], 1))
        await asyncio.sleep(0.05)
        rest = [b.translate([f"x{i}"], 1 if i % 3 else 5) for i in range(9)]
        tasks = [asyncio.ensure_future(r) for r in rest]
        await asyncio.sleep(0.05)
        fn.release.set()
        await asyncio.gather(first, *tasks)
        await b.close()
        return fn

    fn = run(main())
    option_of = {"a": 1} | {f"x{i}": 1 if i % 3 else 5 for i in range(9)}
    assert all(len(s) <= 4 and {option_of[x] for x in s} == {o} for s, o in fn.calls)
    assert sorted(s for ss, _ in fn.calls for s in ss) == sorted(["a"] + [f"x{i}" for i in range(9)])
    assert {len(s) for s, o in fn.calls if o == 1} >= {4}  # the queued ones did go together


def test_a_full_queue_refuses_at_once_and_a_closed_batcher_takes_nothing():
    async def main():
        fn = Recorder()
        fn.release.clear()
        b = await started(fn, max_batch=2, max_wait_ms=0, max_queue=3)
        held = asyncio.ensure_future(b.translate(["a", "b"], 0))  # taken by the worker, held there
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(b.translate(["c", "d", "e"], 0))  # fills the queue
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded, match="busy"):
            await b.translate(["f"], 0)
        fn.release.set()
        assert await held == ["a/0", "b/0"] and await waiting == ["c/0", "d/0", "e/0"]
        await b.close()
        with pytest.raises(Closed):
            await b.translate(["g"], 0)

    run(main())


def test_a_cancelled_request_is_not_decoded_and_a_failure_reaches_only_its_batch():
    async def main():
        fn = Recorder()
        fn.release.clear()
        b = await started(fn, max_batch=8, max_wait_ms=0)
        held = asyncio.ensure_future(b.translate(["a"], 0))
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(b.translate(["cancelled"], 0))
        await asyncio.sleep(0.01)
        gone.cancel()
        fn.release.set()
        assert await held == ["a/0"]
        with pytest.raises(RuntimeError, match="boom"):
            await b.translate(["boom"], 0)
        assert await b.translate(["after"], 0) == ["after/0"]
        await b.close()
        return fn

    fn = run(main())
    assert "cancelled" not in [s for ss, _ in fn.calls for s in ss]
    assert [ss for ss, _ in fn.calls] == [["a"], ["boom"], ["after"]]
