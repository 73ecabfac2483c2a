"""SyncJob.from_json answers a job or MalformedMessage, never another exception (the worker and
the poison handler complete malformed messages instead of retrying them forever)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.sync.messages import MalformedMessage, SyncJob
from tests.fuzz.test_queue_messages import malformed_bodies


@pytest.mark.parametrize("body", malformed_bodies(), ids=lambda b: f"{len(b)}b")
def test_every_malformed_body_is_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(MalformedMessage) as refused:
        SyncJob.from_json(body)
    assert refused.value.reason


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=30,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_anything_is_a_job_or_malformed(body: bytes) -> None:
    try:
        job = SyncJob.from_json(body)
    except MalformedMessage:
        return
    assert SyncJob.from_json(job.to_json()) == job


def test_a_job_round_trips_and_true_is_no_version() -> None:
    job = SyncJob("office-1", "nightly-2025-01-31", "4711")
    assert SyncJob.from_json(job.to_json()) == job
    disguised = json.loads(job.to_json()) | {"v": True}
    with pytest.raises(MalformedMessage):
        SyncJob.from_json(json.dumps(disguised))
