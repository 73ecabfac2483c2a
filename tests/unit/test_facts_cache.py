"""The AFAS facts of an administration are read once per run and shared (shared/sync/bookers.py
FactsCache): a new run reads again, so does a fact past its age; a failed read is not kept."""

import threading
import time
from datetime import timedelta

import pytest

from shared.sync.bookers import FactsCache


def test_facts_are_read_once_per_administration_per_run_and_again_for_the_next_run() -> None:
    cache = FactsCache()
    reads: list[str] = []

    def load(tag: str) -> str:
        reads.append(tag)
        return tag

    first = ("office", "12345", 1, "nightly-2026-12-05", (2026,))
    assert cache.get(first, lambda: load("a")) == "a"
    assert cache.get(first, lambda: load("b")) == "a"  # a second job of the same run shares it
    other_adm = ("office", "12345", 2, "nightly-2026-12-05", (2026,))
    assert cache.get(other_adm, lambda: load("c")) == "c"
    next_night = ("office", "12345", 1, "nightly-2026-12-06", (2026,))
    assert cache.get(next_night, lambda: load("d")) == "d"  # a fact older than the nightly
    assert reads == ["a", "c", "d"]


def test_a_fact_past_its_age_is_read_again_and_a_failed_read_is_not_kept() -> None:
    cache = FactsCache(max_age=timedelta(seconds=0.05))
    key = ("office", "12345", 1, "run", (2026,))

    def fail() -> str:
        raise RuntimeError("AFAS 503")

    with pytest.raises(RuntimeError):
        cache.get(key, fail)
    assert cache.get(key, lambda: "fresh") == "fresh"
    deadline = time.monotonic() + 0.05
    while time.monotonic() <= deadline:  # bounded: the age is 50 ms
        pass
    assert cache.get(key, lambda: "again") == "again"


def test_concurrent_jobs_of_one_administration_read_its_facts_once() -> None:
    cache = FactsCache()
    reads: list[int] = []
    gate = threading.Event()

    def slow() -> str:
        reads.append(1)
        gate.wait(2)
        return "facts"

    key = ("office", "12345", 1, "run", (2026,))
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.get(key, slow))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert answers == ["facts"] * 6 and reads == [1]
