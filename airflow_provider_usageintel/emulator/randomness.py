"""Seeded randomness shared by the synthetic populations: keyed hashes and drawn ids.

Values derive from their keys, never from process state (``hash()`` is salted per
interpreter), so equal configs give equal data in every process.
"""

from __future__ import annotations

import hashlib
import random

_MASK64 = (1 << 64) - 1


def mix64(value: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread keyed hash for per-day activity."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``; unlike ``hash()`` it survives interpreter restarts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def stable_uuid(*parts: object) -> str:
    """A UUID fixed by ``parts``, formatted like a version-4 one."""
    digest = bytearray(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest())
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def random_hex(rng: random.Random, bits: int = 64) -> str:
    """``bits`` random bits as upper-case hex digits (machine and session ids)."""
    return f"{rng.getrandbits(bits):0{bits // 4}X}"
