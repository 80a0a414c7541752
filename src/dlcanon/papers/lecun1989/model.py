"""Net-1989: the constrained network of LeCun et al. (1989), "Backpropagation Applied to Handwritten Zip
Code Recognition", Neural Computation 1(4), written in explicit torch ops.

    x   (B, 1, 16, 16)  a normalised digit, grey levels in [-1, 1], background -1
    H1  (B, 12, 8, 8)   12 feature maps; a unit sees a 5x5 patch; neighbours' patches are 2 pixels apart;
                        the 25 weights are shared by the 64 units of a map, the biases are not (Sec. 3.2-3.3)
    H2  (B, 12, 4, 4)   the same scheme one level up, each map reading 8 of the 12 H1 maps (Sec. 3.3)
    H3  (B, 30)         fully connected to H2
    y_hat (B, 10)       fully connected to H3, one unit per digit, targets -1 / +1 (place code)

Every unit computes x_j = f(a_j), a_j = sum_i w_ij x_i + b_j, with f a scaled hyperbolic tangent (Sec. 4).
The paper sizes: 1,256 units, 64,660 connections, 9,760 independent parameters; `count_*` recompute them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# f(a) = A tanh(S a). The 1989 paper names a "scaled hyperbolic tangent" without printing constants; these
# are the ones LeCun et al. give later (1998, Appendix A): they put f(+-1) = +-1, so the -1/+1 targets sit in
# the quasi-linear range of f, as Sec. 4 asks of the targets.
A = 1.7159
S = 2.0 / 3.0


def f(a: torch.Tensor, A: float = A, S: float = S) -> torch.Tensor:
    """The squashing function of every unit: f(a) = A tanh(S a)."""
    return A * torch.tanh(S * a)


def connection_table() -> torch.Tensor:
    """(12, 8) long: row j lists the H1 maps that H2 map j reads.

    The paper says each H2 map combines 8 of the 12 H1 maps "according to a scheme that will not be
    discussed here". Our guess: split H1 into three blocks of four maps (a, b, c); H2 maps 0-3 read a+b,
    4-7 read b+c, 8-11 read a+c. Every H2 map reads 8 maps and every H1 map feeds 8 H2 maps.
    """
    a, b, c = torch.arange(0, 4), torch.arange(4, 8), torch.arange(8, 12)
    rows = [torch.cat(pair) for pair in ((a, b), (b, c), (a, c)) for _ in range(4)]
    return torch.stack(rows)  # (12, 8)


def uniform_init(shape, fan_in: int, generator: torch.Generator | None, sqrt_fan_in: bool) -> torch.Tensor:
    """Sec. 4: U(-2.4/F, 2.4/F), F = fan-in of the unit. With sqrt_fan_in, U(-2.4/sqrt(F), 2.4/sqrt(F))."""
    bound = 2.4 / (fan_in**0.5 if sqrt_fan_in else fan_in)
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


class Net1989(nn.Module):
    """The network of Sec. 3.3 (its Fig. 3): two levels of shared-weight, subsampling feature maps, then two
    fully connected layers. `per_unit_bias=False` gives each map a single bias (the later LeNet habit)."""

    def __init__(
        self,
        per_unit_bias: bool = True,
        sqrt_fan_in: bool = False,
        generator: torch.Generator | None = None,
        pad_input: float = -1.0,
        pad_H1: float = 0.0,
    ):
        super().__init__()
        self.per_unit_bias = per_unit_bias
        self.pad_input, self.pad_H1 = pad_input, pad_H1
        self.register_buffer("table", connection_table(), persistent=False)  # (12, 8)

        def U(shape, fan_in):
            return nn.Parameter(uniform_init(shape, fan_in, generator, sqrt_fan_in))

        # A bias is a weight from an always-on unit, so it gets the same init as the unit's other weights.
        self.W1 = U((12, 1, 5, 5), 25)  # one 5x5 kernel per H1 map
        self.b1 = U((12, 8, 8) if per_unit_bias else (12, 1, 1), 25)
        self.W2 = U((12, 8, 5, 5), 200)  # per H2 map: 8 H1 maps x 5x5
        self.b2 = U((12, 4, 4) if per_unit_bias else (12, 1, 1), 200)
        self.W3 = U((192, 30), 192)
        self.b3 = U((30,), 192)
        self.W4 = U((30, 10), 30)
        self.b4 = U((10,), 30)

    def H1(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 16, 16) -> (B, 12, 8, 8). Padding by 2 (with the background value) lets 5x5 kernels at
        stride 2 centre on pixels 0, 2, ..., 14: 8 positions per axis, as in the paper."""
        x = F.pad(x, (2, 2, 2, 2), value=self.pad_input)  # (B, 1, 20, 20)
        return f(F.conv2d(x, self.W1, stride=2) + self.b1)  # (B, 12, 8, 8)

    def K2(self) -> torch.Tensor:
        """The full (12, 12, 5, 5) H2 kernel: W2[j, k] sits at input map table[j, k], zeros elsewhere.

        The zeros are not parameters and get no gradient, so a missing connection stays missing. (A grouped
        convolution over the gathered maps computes the same thing but is ~10x slower on CPU.)"""
        K = self.W2.new_zeros(12, 12, 5, 5)
        rows = torch.arange(12, device=self.W2.device)[:, None].expand(12, 8)  # (12, 8): H2 map of each entry
        K[rows, self.table] = self.W2  # (12, 8, 5, 5) into (12, 12, 5, 5)
        return K

    def H2(self, h1: torch.Tensor) -> torch.Tensor:
        """(B, 12, 8, 8) -> (B, 12, 4, 4): the same subsampled convolution one level up, each map reading
        only the 8 H1 maps of its row of the connection table."""
        h1 = F.pad(h1, (2, 2, 2, 2), value=self.pad_H1)  # (B, 12, 12, 12)
        return f(F.conv2d(h1, self.K2(), stride=2) + self.b2)  # (B, 12, 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 16, 16) -> y_hat (B, 10) in (-A, A)."""
        h2 = self.H2(self.H1(x)).flatten(1)  # (B, 192)
        h3 = f(h2 @ self.W3 + self.b3)  # (B, 192) @ (192, 30) -> (B, 30)
        return f(h3 @ self.W4 + self.b4)  # (B, 30) @ (30, 10) -> (B, 10)

    def count_units(self) -> int:
        """Input pixels plus every computing unit: 256 + 768 + 192 + 30 + 10."""
        return 16 * 16 + 12 * 8 * 8 + 12 * 4 * 4 + 30 + 10

    def count_connections(self) -> int:
        """Each unit has one connection per input it reads plus one from the bias: units x (fan-in + 1).
        Edge units of H1/H2 whose patch overlaps the padding still count 25 (or 200) inputs, as in the paper."""
        return 768 * (25 + 1) + 192 * (8 * 25 + 1) + 30 * (192 + 1) + 10 * (30 + 1)


class FullyConnected(nn.Module):
    """The unconstrained comparison: 256 inputs -> n_hidden -> 10, same f, init and targets as Net1989."""

    def __init__(self, n_hidden: int, sqrt_fan_in: bool = False, generator: torch.Generator | None = None):
        super().__init__()

        def U(shape, fan_in):
            return nn.Parameter(uniform_init(shape, fan_in, generator, sqrt_fan_in))

        self.W1, self.b1 = U((256, n_hidden), 256), U((n_hidden,), 256)
        self.W2, self.b2 = U((n_hidden, 10), n_hidden), U((10,), n_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 16, 16) -> y_hat (B, 10)."""
        h = f(x.flatten(1) @ self.W1 + self.b1)  # (B, 256) @ (256, H) -> (B, H)
        return f(h @ self.W2 + self.b2)  # (B, H) @ (H, 10) -> (B, 10)


def count_parameters(model: nn.Module) -> int:
    """Independent (free) parameters: a shared kernel counts once, which is the point of weight sharing."""
    return sum(p.numel() for p in model.parameters())
