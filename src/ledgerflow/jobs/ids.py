"""Sortable unique job ids: ``job_`` + a 26-character ULID (Crockford base32).

The first 10 characters encode the creation time in milliseconds, so ids sort by
creation time; within one millisecond a process increments the random part, so
ids it makes stay strictly increasing.
"""

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_ulid() -> str:
    global _last_ms, _last_rand
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            now_ms = _last_ms
            _last_rand += 1
        else:
            _last_ms = now_ms
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        return _encode(now_ms, 10) + _encode(_last_rand, 16)


def new_job_id() -> str:
    return "job_" + new_ulid()


def new_worker_id() -> str:
    return "wrk_" + new_ulid()
