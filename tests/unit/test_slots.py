"""The channel limit shared by event loops and threads: FIFO, cancellation-safe, never blocking a loop."""

import asyncio
import threading

import pytest

from tether.transports.slots import ChannelSlots


def test_async_waiters_get_slots_in_order_and_the_loop_keeps_running():
    slots = ChannelSlots(2)
    order = []

    async def user(name, hold):
        await slots.acquire_async()
        order.append(name)
        await asyncio.sleep(hold)
        slots.release()

    async def main():
        ticks = 0

        async def ticker():  # the loop is never blocked while tasks wait for a slot
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        tick = asyncio.ensure_future(ticker())
        await asyncio.gather(*(user(i, 0.02) for i in range(6)))
        tick.cancel()
        return ticks

    assert asyncio.run(main()) > 10
    assert order == list(range(6))
    assert slots.in_use == 0


def test_a_cancelled_waiter_takes_no_slot_and_loses_none():
    slots = ChannelSlots(1)

    async def main():
        await slots.acquire_async()
        waiter = asyncio.ensure_future(slots.acquire_async())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        slots.release()
        await asyncio.wait_for(slots.acquire_async(), 1)  # the slot came back

    asyncio.run(main())
    assert slots.in_use == 1


def test_threads_and_tasks_share_one_limit():
    slots = ChannelSlots(1)
    assert slots.acquire()
    got = []

    def thread_user():
        got.append(slots.acquire(timeout=5))

    async def main():
        task = asyncio.ensure_future(slots.acquire_async())  # queued first
        await asyncio.sleep(0.01)
        thread = threading.Thread(target=thread_user)
        thread.start()
        slots.release()  # goes to the task, the longest waiter
        await asyncio.wait_for(task, 1)
        assert got == []
        slots.release()  # now the thread's
        await asyncio.to_thread(thread.join, 5)

    asyncio.run(main())
    assert got == [True]
    assert not slots.acquire(timeout=0.01)  # all taken: a timed wait gives up
    slots.release()
    assert slots.in_use == 0
    with pytest.raises(RuntimeError, match="released more often"):
        slots.release()
