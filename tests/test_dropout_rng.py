"""Dropout masks made on the device by a counter-based hash (rng.random_bits): the documented formula,
the same bits on every device, nothing copied, good statistics, and exact resume."""
import numpy as np
import pytest

from tinygrad_dl1 import Tensor, get_rng_state, manual_seed, rng, set_rng_state
from tinygrad_dl1.nn import functional as F

MASK32 = 0xFFFFFFFF


def reference_bits(k1, k2, n):
    """rng's formula, one Python int at a time: bits(i) = mix(mix(i ^ k1) ^ k2), mix = lowbias32."""
    def mix(x):
        x ^= x >> 16
        x = (x * 0x7feb352d) & MASK32
        x ^= x >> 15
        x = (x * 0x846ca68b) & MASK32
        return x ^ (x >> 16)
    return [mix(mix(i ^ k1) ^ k2) for i in range(n)]


class Keys:
    """A stand-in for a Generator that hands out the keys it is given."""

    def __init__(self, k1, k2):
        self.keys = np.array([k1, k2], dtype=np.uint32)

    def integers(self, low, high, size, dtype):
        assert (low, high, size, np.dtype(dtype)) == (0, 2 ** 32, 2, np.uint32)
        return self.keys


def test_random_bits_follow_the_documented_formula(device):
    k1, k2 = (int(k) for k in np.random.default_rng(7).integers(0, 2 ** 32, size=2, dtype=np.uint32))
    bits = rng.random_bits((3, 5), np.random.default_rng(7), like=device.array(np.zeros(1)))
    assert bits.dtype == np.uint32 and bits.shape == (3, 5)
    assert device.to_host(bits).ravel().tolist() == reference_bits(k1, k2, 15)
    assert reference_bits(0, 0, 3) == [0, 1492470133, 911671261]   # as C computes it with uint32_t


def test_a_generator_gives_the_same_mask_on_every_device(device):
    x = np.ones((64, 50), np.float32)
    on_cpu = F.dropout(Tensor(x), 0.3, generator=np.random.default_rng(1)).numpy()
    there = F.dropout(device.tensor(x), 0.3, generator=np.random.default_rng(1))
    assert there.device == device.name
    np.testing.assert_array_equal(device.to_host(there), on_cpu)
    assert set(np.unique(on_cpu)) == {0, np.float32(1 / 0.7)}


def test_a_mask_is_made_on_the_gpu_with_nothing_copied_or_read_back(device):
    if device.fake is None:
        pytest.skip("counts copies on the stand-in")
    x = device.tensor(np.ones((8, 16), np.float32), requires_grad=True)
    with device.fake.forbid_syncs(), device.fake.counting() as counts:
        F.dropout(x, 0.5).sum().backward()
    assert counts.uploads == 0


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_masks_drop_a_fraction_p_independently_of_position_and_of_each_other(p):
    n = 200_000
    tolerance = 5 * np.sqrt(p * (1 - p) / n)           # five standard deviations
    generator = np.random.default_rng(0)
    a, b = (F.dropout(Tensor(np.ones(n, np.float32)), p, generator=generator).numpy() == 0 for _ in range(2))
    assert abs(a.mean() - p) < tolerance and abs(b.mean() - p) < tolerance
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 5 / np.sqrt(n)        # neighbours
    assert abs(np.corrcoef(a[:-64], a[64:])[0, 1]) < 5 / np.sqrt(n)      # rows of a (.., 64) tensor
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(n)                 # two calls


def test_each_bit_is_fair_and_keys_one_bit_apart_give_unrelated_bits():
    n = 100_000
    bits = rng.random_bits((n,), Keys(12345, 678))
    per_bit = (bits[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    assert np.abs(per_bit.mean(axis=0) - 0.5).max() < 5 * 0.5 / np.sqrt(n)
    for other in (Keys(12345 ^ 1, 678), Keys(12345 ^ (1 << 31), 678), Keys(12345, 678 ^ 1)):
        other_bits = rng.random_bits((n,), other)
        same = ((bits ^ other_bits)[:, None] >> np.arange(32, dtype=np.uint32)) & 1
        assert np.abs(same.mean() - 0.5) < 5 * 0.5 / np.sqrt(32 * n)      # half the bits differ
        assert abs(np.corrcoef(bits >= 2 ** 31, other_bits >= 2 ** 31)[0, 1]) < 5 / np.sqrt(n)


def test_the_saved_state_gives_the_same_masks_again():
    manual_seed(4)
    x = Tensor(np.ones((30, 40), np.float32))
    F.dropout(x, 0.5)
    saved = get_rng_state()
    first = [F.dropout(x, 0.5).numpy() for _ in range(3)]
    manual_seed(99)
    set_rng_state(saved)
    again = [F.dropout(x, 0.5).numpy() for _ in range(3)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


def test_more_entries_than_the_hash_tells_apart_are_refused():
    with pytest.raises(ValueError, match="more than the 2\\^32 indices"):
        rng.random_bits((2 ** 16, 2 ** 16 + 1))


def test_a_state_the_generator_would_wrap_or_refuse_is_refused_and_changes_nothing():
    rng.manual_seed(3)
    good = rng.get_rng_state()
    for bad in ({**good, "state": {**good["state"], "state": -1}}, {**good, "bit_generator": "MT19937"},
                {**good, "state": {**good["state"], "inc": 2 ** 200}}):
        with pytest.raises(ValueError, match="rng state that PCG64 refuses"):
            rng.set_rng_state(bad)
        assert rng.get_rng_state() == good
