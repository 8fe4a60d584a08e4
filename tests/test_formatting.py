"""labkit.formatting against go-units' own tests (size_test.go, duration_test.go) and docker's columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from labkit.formatting import human_duration, human_size, time_ago

KB, MB, GB, TB, PB = 1000, 1000**2, 1000**3, 1000**4, 1000**5
MINUTE, HOUR = 60, 3600
DAY = 24 * HOUR
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY


# go-units TestHumanSize (the spaced form of go-units before v0.4, which `HumanSize` uses: precision 4)
@pytest.mark.parametrize("size,want", [
    (1000, "1 kB"),
    (1024, "1.024 kB"),
    (1000000, "1 MB"),
    (1048576, "1.049 MB"),
    (2 * MB, "2 MB"),
    (3.42 * GB, "3.42 GB"),
    (5.372 * TB, "5.372 TB"),
    (2.22 * PB, "2.22 PB"),
    (2.22 * PB * 1000, "2.22 EB"),
    (7.707 * PB * 1000, "7.707 EB"),
    (10000000000000 * PB, "1e+04 YB"),  # past the last unit, Go's %g switches to an exponent
])
def test_human_size_go_units_precision_4(size, want):
    assert human_size(size, precision=4) == want


# docker images prints HumanSizeWithPrecision(size, 3)
@pytest.mark.parametrize("size,want", [
    (0, "0 B"),
    (1, "1 B"),
    (999, "999 B"),
    (1000, "1 kB"),
    (1024, "1.02 kB"),
    (1110000, "1.11 MB"),
    (771e6, "771 MB"),
    (72_800_000, "72.8 MB"),
    (123_456_789, "123 MB"),
    (1_500_000_000, "1.5 GB"),
    (999_999, "1 MB"),  # go-units prints "1e+03 kB" (%.3g of 999.999); labkit moves to the next unit
])
def test_human_size_docker_images_precision_3(size, want):
    assert human_size(size) == want


# go-units TestHumanDuration and ExampleHumanDuration
@pytest.mark.parametrize("seconds,want", [
    (0.45, "Less than a second"),
    (0, "Less than a second"),
    (-5, "Less than a second"),
    (1, "1 second"),
    (45, "45 seconds"),
    (46, "46 seconds"),
    (47, "47 seconds"),
    (59, "59 seconds"),
    (60, "About a minute"),
    (3 * MINUTE, "3 minutes"),
    (35 * MINUTE, "35 minutes"),
    (35 * MINUTE + 40, "35 minutes"),
    (45 * MINUTE, "45 minutes"),
    (45 * MINUTE + 40, "45 minutes"),
    (46 * MINUTE, "46 minutes"),
    (59 * MINUTE, "59 minutes"),
    (HOUR, "About an hour"),
    (HOUR + 29 * MINUTE, "About an hour"),
    (HOUR + 31 * MINUTE, "2 hours"),
    (HOUR + 45 * MINUTE, "2 hours"),
    (HOUR + 59 * MINUTE, "2 hours"),
    (3 * HOUR, "3 hours"),
    (3 * HOUR + 29 * MINUTE, "3 hours"),
    (3 * HOUR + 31 * MINUTE, "4 hours"),
    (3 * HOUR + 59 * MINUTE, "4 hours"),
    (3 * HOUR + 60 * MINUTE, "4 hours"),
    (24 * HOUR, "24 hours"),
    (DAY + 12 * HOUR, "36 hours"),
    (2 * DAY, "2 days"),
    (7 * DAY, "7 days"),
    (13 * DAY + 5 * HOUR, "13 days"),
    (2 * WEEK, "2 weeks"),
    (2 * WEEK + 4 * DAY, "2 weeks"),
    (3 * WEEK, "3 weeks"),
    (4 * WEEK, "4 weeks"),
    (4 * WEEK + 3 * DAY, "4 weeks"),
    (MONTH, "4 weeks"),
    (MONTH + 2 * WEEK, "6 weeks"),
    (2 * MONTH, "2 months"),
    (2 * MONTH + 2 * WEEK, "2 months"),
    (3 * MONTH, "3 months"),
    (3 * MONTH + WEEK, "3 months"),
    (5 * MONTH + 2 * WEEK, "5 months"),
    (13 * MONTH, "13 months"),
    (23 * MONTH, "23 months"),
    (24 * MONTH, "24 months"),
    (24 * MONTH + 2 * WEEK, "2 years"),
    (3 * YEAR + 2 * MONTH, "3 years"),
])
def test_human_duration_go_units(seconds, want):
    assert human_duration(seconds) == want


@pytest.mark.parametrize("delta,want", [
    (timedelta(seconds=0.2), "Less than a second ago"),
    (timedelta(minutes=1), "About a minute ago"),
    (timedelta(days=61), "2 months ago"),
    (timedelta(days=2 * 365 + 30), "2 years ago"),
])
def test_time_ago(delta, want):
    now = datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc)
    assert time_ago(now - delta, now) == want
