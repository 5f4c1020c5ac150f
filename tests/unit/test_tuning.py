"""bulk_work: the collector is tuned inside, and left exactly as it was found outside."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator

import pytest

from cps_ledger import bulk_work
from cps_ledger.limits import BULK_GC_THRESHOLD, BULK_SWITCH_INTERVAL_S

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
