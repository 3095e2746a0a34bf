"""Philox4x32-10: the published Random123 known-answer vectors, and the counter layout."""

import numpy as np
import pytest

from lattice.rng import Stream, philox4x32_10, to_unit_float32, uniforms

# Random123 kat_vectors, "philox4x32 10" lines: counter (4 words), key (2 words) -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answer_vectors(counter, key, expected):
    out = philox4x32_10(counter, key)
    assert tuple(int(o) for o in out) == expected


def test_vectorised_equals_scalar_calls():
    ctr = np.arange(50, dtype=np.uint32)
    vec = philox4x32_10((ctr, 7, 3, 0), (11, 2))
    for i in (0, 13, 49):
        one = philox4x32_10((i, 7, 3, 0), (11, 2))
        assert all(int(v[i]) == int(o) for v, o in zip(vec, one))


def test_uniforms_are_uniform_and_in_range():
    """Mean 1/2 and variance 1/12 within 5 standard errors over 2^16 × 4 draws; range [0, 1)."""
    u = np.concatenate([a.ravel() for a in uniforms(1, 1, (256, 256), 0, Stream.PLACEMENT)])
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)


def test_streams_steps_replicates_and_seeds_differ():
    base = uniforms(1, 2, (16, 16), 5, Stream.NECROSIS)[0]
    assert not np.array_equal(base[0], base[1]), "replicates must get different numbers"
    for other in (uniforms(1, 2, (16, 16), 6, Stream.NECROSIS)[0],
                  uniforms(1, 2, (16, 16), 5, Stream.APOPTOSIS)[0],
                  uniforms(2, 2, (16, 16), 5, Stream.NECROSIS)[0]):
        assert np.mean(base == other) < 0.01


def test_replicate_zero_equals_single_run():
    """Replicate 0 of a batch draws what a replicates=1 run with the same seed draws."""
    a = uniforms(9, 3, (8, 8), 2, Stream.CYCLE)
    b = uniforms(9, 1, (8, 8), 2, Stream.CYCLE)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x[0], y[0])


def test_unit_float_uses_top_24_bits():
    bits = np.array([0, 0xFF, 0x100, 0xFFFFFFFF], dtype=np.uint32)
    np.testing.assert_array_equal(to_unit_float32(bits), np.float32([0, 0, 2**-24, 1 - 2**-24]))
