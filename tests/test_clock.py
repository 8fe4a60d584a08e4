"""labkit.clock: LABKIT_NOW pins "now", SOURCE_DATE_EPOCH pins build stamps, RFC 3339 in and out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from labkit import clock

UTC = timezone.utc


@pytest.mark.parametrize("text,want", [
    # epoch seconds, as SOURCE_DATE_EPOCH and LABKIT_NOW may hold them
    ("0", datetime(1970, 1, 1, tzinfo=UTC)),
    ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("1700000000.5", datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
    (" 1700000000\n", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    # RFC 3339 as image configs write it
    ("2023-11-14T22:13:20Z", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T22:13:20z", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T22:13:20+00:00", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T23:13:20+01:00", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T17:13:20-05:00", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("2023-11-14T22:13:20", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),  # no zone: UTC
    # Go writes up to 9 fractional digits (time.RFC3339Nano); Python keeps 6
    ("2023-11-14T22:13:20.5Z", datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
    ("2023-11-14T22:13:20.123Z", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
    ("2023-11-14T22:13:20.123456Z", datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
    ("2023-11-14T22:13:20.123456789Z", datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
    ("2015-10-31T22:22:56.015925234Z", datetime(2015, 10, 31, 22, 22, 56, 15925, tzinfo=UTC)),
    ("2023-11-14T23:13:20.123456789+01:00", datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
    ("2023-11-14T17:13:20.987654321-05:00", datetime(2023, 11, 14, 22, 13, 20, 987654, tzinfo=UTC)),
])
def test_parse_time(text, want):
    got = clock.parse_time(text)
    assert got == want
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "2023-13-01T00:00:00Z", "2023-11-14T25:00:00Z"])
def test_parse_time_rejects_garbage(text):
    with pytest.raises(ValueError):
        clock.parse_time(text)


@pytest.mark.parametrize("pinned,want", [
    ("2026-11-27T22:40:00Z", datetime(2026, 11, 27, 22, 40, tzinfo=UTC)),
    ("2026-11-27T23:40:00.000000001+01:00", datetime(2026, 11, 27, 22, 40, tzinfo=UTC)),
    ("1796428800", datetime(2026, 12, 5, 0, 0, tzinfo=UTC)),
])
def test_now_honours_labkit_now(monkeypatch, pinned, want):
    monkeypatch.setenv("LABKIT_NOW", pinned)
    assert clock.now() == want
    assert clock.now() == clock.now()  # pinned: it does not move


def test_now_unpinned_is_the_current_utc_time(monkeypatch):
    monkeypatch.delenv("LABKIT_NOW", raising=False)
    before = datetime.now(UTC)
    got = clock.now()
    after = datetime.now(UTC)
    assert before <= got <= after
    assert got.utcoffset() == timedelta(0)


def test_empty_labkit_now_means_unpinned(monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_build_time_honours_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("LABKIT_NOW", "2026-11-27T22:40:00Z")  # SOURCE_DATE_EPOCH wins for builds
    assert clock.build_time() == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert clock.now() == datetime(2026, 11, 27, 22, 40, tzinfo=UTC)  # ...and never moves "now"


def test_build_time_falls_back_to_now(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("LABKIT_NOW", "2026-11-27T22:40:00Z")
    assert clock.build_time() == datetime(2026, 11, 27, 22, 40, tzinfo=UTC)


@pytest.mark.parametrize("dt,want", [
    (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "2023-11-14T22:13:20Z"),
    (datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC), "2023-11-14T22:13:20.123456Z"),
    (datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone(timedelta(hours=1))), "2023-11-14T22:13:20Z"),
    (datetime(1970, 1, 1, tzinfo=UTC), "1970-01-01T00:00:00Z"),
])
def test_rfc3339(dt, want):
    assert clock.rfc3339(dt) == want
    assert clock.parse_time(want) == dt
