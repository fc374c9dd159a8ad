"""collector_paused: off inside; back on after the last of nested or concurrent pauses."""

from __future__ import annotations

import gc
import threading

import pytest

from airflow_provider_usageintel.utils.gc_pause import collector_paused


def test_pause_disables_and_restores():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still runs
    assert gc.isenabled()


def test_collector_resumes_after_an_error():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads_resume_once_both_end():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert inside.wait(30)
    assert not gc.isenabled()  # the other thread's pause has not ended
    release.set()
    thread.join(30)
    assert gc.isenabled()
