"""Krizhevsky, Sutskever & Hinton (2012), ImageNet Classification with Deep Convolutional Neural Networks.

The system, in the paper's terms: eight learned layers, five convolutional and three fully connected (Sec. 3.5,
Fig. 2), with
    ReLU units f(x) = max(0, x) after every layer but the last (Sec. 3.1);
    local response normalisation after the ReLUs of layers 1 and 2 (Sec. 3.3);
    overlapping max pooling, z = 3 and s = 2, after both normalisations and after layer 5 (Sec. 3.4);
    the two-GPU "columns": layers 2, 4 and 5 read only the maps of their own half (Sec. 3.2), here conv groups;
    dropout with probability 0.5 in the first two fully connected layers, outputs halved at test time (Sec. 4.2);
    the init of Sec. 5 (zero-mean Gaussian weights, biases 1 in layers 2, 4, 5, 6, 7 and 0 elsewhere);
    and the learning rule of Sec. 5 (SGD with momentum 0.9 and weight decay 0.0005).
Sizes are arguments: `AlexNet.paper()` builds the ImageNet net of the paper; the experiment builds a narrow one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PAPER_FAN_IN = (11 * 11 * 3, 5 * 5 * 48, 3 * 3 * 256, 3 * 3 * 192, 3 * 3 * 192, 6 * 6 * 256, 4096, 4096)
"""Inputs per unit in each of the paper's eight layers (Sec. 3.5), for the gain-matched init below."""
BIAS_ONE = ("conv2", "conv4", "conv5", "fc6", "fc7")
"""Sec. 5: "We initialized the neuron biases in the second, fourth, and fifth convolutional layers, as well as in
the fully-connected hidden layers, with the constant 1"."""


def window_sum(t: torch.Tensor, n: int) -> torch.Tensor:
    """sum_{j=i-n/2}^{i+n/2} t^j over the map axis of (B, N, H, W), maps beyond either edge counting as zero."""
    N = t.shape[1]
    padded = F.pad(t, (0, 0, 0, 0, n // 2, n // 2))  # (B, N + n - 1, H, W)
    out = padded[:, 0:N].clone()
    for j in range(1, n):  # n shifted copies: map i sees maps i - n//2 .. i + n//2
        out += padded[:, j : j + N]
    return out  # (B, N, H, W)


class LocalResponseNorm(torch.autograd.Function):
    """Sec. 3.3: b^i_{x,y} = a^i_{x,y} / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} (a^j_{x,y})^2)^beta,
    the sum running over n adjacent kernel maps at the same position (N maps in the layer, n odd).

    Written with its own backward, the one autograd would derive, only faster (about 40% less time on a CPU):
    with D^i = k + alpha * sum_j (a^j)^2 and b^i = a^i (D^i)^-beta,
        dL/da^j = g^j (D^j)^-beta - 2 alpha beta a^j sum_{i: j in window(i)} g^i b^i / D^i,
    and the windows are symmetric, so the last sum is the same window sum (a test checks it against torch)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, k: float, n: int, alpha: float, beta: float) -> torch.Tensor:
        D = window_sum(a * a, n).mul_(alpha).add_(k)  # (B, N, H, W)
        scale = D.log().mul_(-beta).exp_()  # D^-beta as exp(-beta log D): twice as fast as pow on a CPU
        b = a * scale
        ctx.save_for_backward(a, b, D, scale)
        ctx.n, ctx.alpha, ctx.beta = n, alpha, beta
        return b

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        a, b, D, scale = ctx.saved_tensors
        grad = g * scale - (2 * ctx.alpha * ctx.beta) * a * window_sum(g * b / D, ctx.n)
        return grad, None, None, None, None


def local_response_norm(
    a: torch.Tensor, k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75
) -> torch.Tensor:
    """Sec. 3.3 with the paper's constants k = 2, n = 5, alpha = 1e-4, beta = 0.75 (see LocalResponseNorm).

    torch.nn.LocalResponseNorm(size=n, alpha=A, beta, k) divides A by n (it averages the squares), so it equals
    this with A = n * alpha: the paper's alpha = 1e-4, n = 5 is LocalResponseNorm(5, alpha=5e-4, 0.75, 2)."""
    if n % 2 != 1:
        raise ValueError(f"the window n must be odd (the paper's is 5), got {n}")
    return LocalResponseNorm.apply(a, k, n, alpha, beta)


def overlapping_max_pool(x: torch.Tensor, z: int = 3, s: int = 2) -> torch.Tensor:
    """Sec. 3.4: pooling units s pixels apart, each the max over a z x z neighbourhood; s < z overlaps."""
    return F.max_pool2d(x, kernel_size=z, stride=s)


def dropout(h: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Sec. 4.2: in training, set each hidden unit's output to zero with probability p; "at test time, we use all
    the neurons but multiply their outputs by 0.5" (1 - p in general). Unlike nn.Dropout, the kept units are
    not scaled up in training: the expected output is the same, and this is the paper's own form."""
    if p == 0:
        return h
    if training:
        return h * (torch.rand_like(h) >= p)  # keep with probability 1 - p
    return h * (1 - p)


def pooled_size(size: int, kernel: int, stride: int, padding: int, pool: int = 3, pool_stride: int = 2) -> int:
    """Side of a map after a convolution (kernel, stride, padding) then an overlapping pool."""
    conv = (size + 2 * padding - kernel) // stride + 1
    return (conv - pool) // pool_stride + 1


class AlexNet(nn.Module):
    """Sec. 3.5, Fig. 2: conv1 -> f -> LRN -> pool, conv2 -> f -> LRN -> pool, conv3 -> f, conv4 -> f,
    conv5 -> f -> pool, fc6 -> f -> dropout, fc7 -> f -> dropout, fc8 -> softmax (in the loss).

    `f` is "relu" (the paper) or "tanh" (the saturating units of Fig. 1's comparison); `columns` = 2 gives the
    paper's two-GPU connectivity, where conv2, conv4 and conv5 read only the maps of their own half."""

    def __init__(
        self,
        widths=(96, 256, 384, 384, 256),
        hidden: int = 4096,
        n_classes: int = 1000,
        image_size: int = 227,
        kernel1: int = 11,
        stride1: int = 4,
        pad1: int = 0,
        columns: int = 2,
        f: str = "relu",
        p_drop: float = 0.5,
        lrn: bool = True,
    ):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.conv1 = nn.Conv2d(3, c1, kernel1, stride=stride1, padding=pad1)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2, groups=columns)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)  # reads every map of layer 2 (Sec. 3.2)
        self.conv4 = nn.Conv2d(c3, c4, 3, padding=1, groups=columns)
        self.conv5 = nn.Conv2d(c4, c5, 3, padding=1, groups=columns)
        side = pooled_size(image_size, kernel1, stride1, pad1)  # after pool 1
        side = pooled_size(side, 5, 1, 2)  # after pool 2; conv3-5 keep the size
        side = pooled_size(side, 3, 1, 1)  # after pool 3
        if side < 1:
            raise ValueError(f"a {image_size}x{image_size} input leaves no map after the third pool")
        self.fc6 = nn.Linear(c5 * side * side, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.fc8 = nn.Linear(hidden, n_classes)
        self.f = {"relu": torch.relu, "tanh": torch.tanh}[f]
        self.p_drop, self.lrn = p_drop, lrn

    @classmethod
    def paper(cls, **kwargs) -> AlexNet:
        """The ImageNet net of Sec. 3.5 (a 224 input with the usual 227 correction so 11x11 at stride 4 gives 55)."""
        return cls(**kwargs)

    def layers(self) -> list[nn.Module]:
        return [self.conv1, self.conv2, self.conv3, self.conv4, self.conv5, self.fc6, self.fc7, self.fc8]

    def norm(self, a: torch.Tensor) -> torch.Tensor:
        return local_response_norm(a) if self.lrn else a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) mean-subtracted RGB -> (B, n_classes) logits (fc8's output, before the softmax)."""
        f = self.f
        h = overlapping_max_pool(self.norm(f(self.conv1(x))))  # (B, c1, S1, S1)
        h = overlapping_max_pool(self.norm(f(self.conv2(h))))  # (B, c2, S2, S2)
        h = f(self.conv4(f(self.conv3(h))))  # (B, c4, S2, S2)
        h = overlapping_max_pool(f(self.conv5(h)))  # (B, c5, S3, S3)
        h = dropout(f(self.fc6(h.flatten(1))), self.p_drop, self.training)  # (B, hidden)
        h = dropout(f(self.fc7(h)), self.p_drop, self.training)  # (B, hidden)
        return self.fc8(h)

    def neurons(self, image_size: int) -> list[int]:
        """Units per layer (maps x positions for conv layers), as counted in Fig. 2's caption."""
        x = torch.zeros(1, 3, image_size, image_size)
        counts, f = [], self.f
        with torch.no_grad():
            a = f(self.conv1(x))
            counts.append(a.numel())
            a = f(self.conv2(overlapping_max_pool(a)))
            counts.append(a.numel())
            a = f(self.conv3(overlapping_max_pool(a)))
            counts.append(a.numel())
            a = f(self.conv4(a))
            counts.append(a.numel())
            a = f(self.conv5(a))
            counts.append(a.numel())
        return counts + [self.fc6.out_features, self.fc7.out_features, self.fc8.out_features]


def init_paper(
    net: AlexNet,
    std: float = 0.01,
    match_paper_gain: bool = False,
    bias_one: bool = True,
    generator: torch.Generator | None = None,
) -> None:
    """Sec. 5: weights ~ N(0, std^2), biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 in conv1, conv3, fc8.

    With match_paper_gain, layer l's standard deviation is std * sqrt(F_paper_l / F_l), F = inputs per unit, so
    that each layer of a narrow net scales its input's variance as the same layer of the paper's net does
    (sum over F inputs of w^2 x^2: the variance grows with F * std^2). With std = 0.01 and the paper's sizes it
    is the paper's init exactly. bias_one=False sets every bias to 0."""
    for name, layer, paper_fan_in in zip(
        ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"), net.layers(), PAPER_FAN_IN, strict=True
    ):
        fan_in = layer.weight[0].numel()
        sigma = std * math.sqrt(paper_fan_in / fan_in) if match_paper_gain else std
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * sigma)
            layer.bias.fill_(1.0 if bias_one and name in BIAS_ONE else 0.0)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


class MomentumSGD:
    """Sec. 5, the update rule for every weight w, with iteration i, learning rate epsilon and the batch mean of
    the gradient <dL/dw>_{D_i}:

        v_{i+1} = 0.9 v_i - 0.0005 epsilon w_i - epsilon <dL/dw>_{D_i}
        w_{i+1} = w_i + v_{i+1}

    Weight decay applies to every parameter, biases included, as the rule is written for "weight w". The paper's
    v carries epsilon inside it; torch.optim.SGD keeps it outside (v' = 0.9 v' + g + 0.0005 w, w -= epsilon v'),
    which is the same sequence of weights while epsilon stays fixed (a test checks it). A plain class, not a
    torch.optim.Optimizer: that base class loads torch's compiler on first use, seconds of start-up for nothing."""

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0005):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.v = [torch.zeros_like(w) for w in self.params]

    def zero_grad(self) -> None:
        for w in self.params:
            w.grad = None

    @torch.no_grad()
    def step(self) -> None:
        eps, mu, decay = self.lr, self.momentum, self.weight_decay
        for w, v in zip(self.params, self.v, strict=True):
            if w.grad is not None:
                v.mul_(mu).add_(w, alpha=-decay * eps).add_(w.grad, alpha=-eps)  # v_{i+1}
                w.add_(v)  # w_{i+1} = w_i + v_{i+1}

    def state_dict(self) -> dict:
        return {"lr": self.lr, "v": [v.clone() for v in self.v]}

    def load_state_dict(self, state: dict) -> None:
        self.lr = float(state["lr"])
        for v, saved in zip(self.v, state["v"], strict=True):
            v.copy_(saved)
