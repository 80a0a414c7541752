"""core.measures against references: the Fréchet distance against scipy's matrix square root (the form FID code
uses) and a closed form in one dimension; the energy distance against a direct double loop."""

import numpy as np
import pytest
import torch
from scipy import linalg

from dlcanon.core.measures import energy_distance, frechet_distance


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_equals_the_sqrtm_form(seed):
    g = torch.Generator().manual_seed(seed)
    f1 = torch.randn(500, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    f2 = torch.randn(400, 6, generator=g, dtype=torch.float64) * 1.5 + 0.3
    m1, m2, c1, c2 = f1.mean(0).numpy(), f2.mean(0).numpy(), np.cov(f1.T.numpy()), np.cov(f2.T.numpy())
    want = ((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(f1, f2) == pytest.approx(want, rel=1e-8)


def test_frechet_distance_in_one_dimension_and_of_a_set_with_itself():
    g = torch.Generator().manual_seed(0)
    f1, f2 = torch.randn(4000, 1, generator=g) * 2 + 1, torch.randn(4000, 1, generator=g) * 0.5 - 1
    want = (float(f1.mean()) - float(f2.mean())) ** 2 + (float(f1.std()) - float(f2.std())) ** 2  # (m1-m2)^2+(s1-s2)^2
    assert frechet_distance(f1, f2) == pytest.approx(want, abs=1e-6)
    assert abs(frechet_distance(f1, f1)) < 1e-6


def test_energy_distance_equals_a_double_loop_and_separates_shifted_clouds():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(30, 2, generator=g), torch.randn(25, 2, generator=g) + 0.5
    dist = lambda u, v: float(torch.linalg.vector_norm(u - v))
    ab = sum(dist(x, y) for x in a for y in b) / (len(a) * len(b))
    aa = sum(dist(x, y) for i, x in enumerate(a) for j, y in enumerate(a) if i != j) / (len(a) * (len(a) - 1))
    bb = sum(dist(x, y) for i, x in enumerate(b) for j, y in enumerate(b) if i != j) / (len(b) * (len(b) - 1))
    assert energy_distance(a, b) == pytest.approx(2 * ab - aa - bb, rel=1e-6)
    x, y = torch.randn(1500, 2, generator=g), torch.randn(1500, 2, generator=g)
    assert abs(energy_distance(x, y)) < 0.01 < 1.0 < energy_distance(x, y + 3)
