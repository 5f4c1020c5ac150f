"""bulk_work: the collector is tuned inside, and left exactly as it was found outside."""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from cps_ledger import bulk_work
from cps_ledger.limits import BULK_GC_THRESHOLD, BULK_SWITCH_INTERVAL_S
from cps_ledger.tuning import writing, yield_gil

TUNED = (BULK_GC_THRESHOLD, 50, 100)
HOST = (1234, 11, 12)
HOST_INTERVAL = 0.0123


@pytest.fixture(autouse=True)
def host_settings() -> Iterator[None]:
    """A host with settings of its own, restored after each test whatever happens."""
    before, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.unfreeze()
    gc.set_threshold(*HOST)
    sys.setswitchinterval(HOST_INTERVAL)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        sys.setswitchinterval(interval)


def test_inside_the_collector_is_tuned_and_outside_it_is_the_hosts_again() -> None:
    with bulk_work():
        assert gc.get_threshold() == TUNED
        assert gc.get_freeze_count() > 0  # what was alive on entry (this module, pytest)
        assert sys.getswitchinterval() == pytest.approx(BULK_SWITCH_INTERVAL_S)
    assert gc.get_threshold() == HOST
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == pytest.approx(HOST_INTERVAL)


def test_an_error_inside_still_restores_the_hosts_settings() -> None:
    with pytest.raises(KeyError), bulk_work():
        raise KeyError("boom")
    assert (gc.get_threshold(), gc.get_freeze_count()) == (HOST, 0)
    assert sys.getswitchinterval() == pytest.approx(HOST_INTERVAL)


def test_nested_uses_share_one_stretch_that_ends_with_the_outermost() -> None:
    with bulk_work():
        with bulk_work():
            assert gc.get_threshold() == TUNED
        assert gc.get_threshold() == TUNED
        assert gc.get_freeze_count() > 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == (HOST, 0)


def test_overlapping_threads_keep_it_tuned_until_the_last_one_leaves() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def other() -> None:
        with bulk_work():
            entered.set()
            release.wait(timeout=30)
            seen.append(gc.get_threshold())

    thread = threading.Thread(target=other)
    with bulk_work():
        thread.start()
        assert entered.wait(timeout=30)
    # This thread has left; the other is still inside.
    assert gc.get_threshold() == TUNED
    release.set()
    thread.join(timeout=30)
    assert seen == [TUNED]
    assert (gc.get_threshold(), gc.get_freeze_count()) == (HOST, 0)


def test_what_the_host_froze_itself_stays_frozen() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with bulk_work():
        pass
    assert gc.get_threshold() == HOST
    assert gc.get_freeze_count() >= frozen


def test_yield_gil_lets_a_waiting_thread_run_and_changes_no_setting() -> None:
    # With a switch interval of a minute, the other thread gets the GIL back from this
    # one's pure-Python loop only if the loop hands it over.
    sys.setswitchinterval(60.0)
    go, ran = threading.Event(), threading.Event()

    def other() -> None:
        go.wait()
        ran.set()

    thread = threading.Thread(target=other)
    thread.start()
    go.set()
    with writing():  # as the writer thread marks its stretch of sends
        for _ in range(100_000):
            if ran.is_set():
                break
            yield_gil()
        handed_over = ran.is_set()  # before join(), which would hand it over in any case
    sys.setswitchinterval(HOST_INTERVAL)
    thread.join()
    assert handed_over
    assert gc.get_threshold() == HOST
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize(("writers", "sleeps"), [(0, []), (1, [0]), (2, [0])])
def test_yield_gil_sleeps_only_while_a_batch_is_being_written(
    monkeypatch: pytest.MonkeyPatch, writers: int, sleeps: list[float]
) -> None:
    # The sleep costs the timer slack (tens of µs): nobody writing, nobody is handed the GIL.
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with ExitStack() as stack:
        for _ in range(writers):
            stack.enter_context(writing())
        yield_gil()
    yield_gil()  # every writer done
    assert slept == sleeps
