"""Job ids: prefix + ULID, strictly increasing within a process, bulk or one at a time."""

from __future__ import annotations

import pytest

from ledgerflow.jobs import ids


def _one_by_one(prefix: str, count: int, now_ms: int, first: int) -> list[str]:
    head = prefix + ids._encode(now_ms, 5)
    return [head + ids._encode(first + i, 8) for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 1023, 1024, 1025, 3000])
@pytest.mark.parametrize("offset", [0, 1, 1022, 1023])
def test_bulk_ids_equal_encoding_each_value(
    monkeypatch: pytest.MonkeyPatch, count: int, offset: int
) -> None:
    """The bulk encoder reuses stems across runs of 1,024 values; every id must still be exact."""
    first = (0x5A5A5A5A5A5A5A5A5A << 10) + offset
    monkeypatch.setattr(ids, "_reserve", lambda _count: (1_700_000_000_000, first))
    assert ids.new_ids("job_", count) == _one_by_one("job_", count, 1_700_000_000_000, first)


def test_ids_increase_strictly_and_stay_unique() -> None:
    made = ids.new_ids("job_", 5000) + [ids.new_job_id() for _ in range(100)]
    made += ids.new_ids("job_", 3000)
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(len(i) == 30 and i.startswith("job_") for i in made)
