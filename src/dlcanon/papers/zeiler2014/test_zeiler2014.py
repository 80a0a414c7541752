"""Zeiler & Fergus (2014): mechanism tests of the deconvnet (unpooling with switches against torch's max_unpool2d;
the whole projection against autograd with a "deconvnet ReLU"), the receptive field, the occlusion and the
data, an exact resume, the smallest config, then the quick claims."""

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import emoji
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.zeiler2014 import experiment
from dlcanon.papers.zeiler2014.model import ZFNet, deconv, project_units, receptive_field, renormalise_filters, unpool


def test_unpooling_with_switches_equals_max_unpool2d():
    torch.manual_seed(0)
    a = torch.randn(3, 4, 8, 6, dtype=torch.float64)
    p, s = F.max_pool2d(a, 2, return_indices=True)
    R = torch.randn_like(p)
    torch.testing.assert_close(unpool(R, s, (8, 6)), F.max_unpool2d(R, s, 2, output_size=(8, 6)), rtol=0, atol=0)
    # by hand: each pooled value goes back to the place of its region's maximum, zeros elsewhere
    a1 = torch.tensor([[[[1.0, 5.0], [2.0, 3.0]]]])
    _, s1 = F.max_pool2d(a1, 2, return_indices=True)
    assert unpool(torch.tensor([[[[7.0]]]]), s1, (2, 2)).flatten().tolist() == [0.0, 7.0, 0.0, 0.0]


class DeconvReLU(torch.autograd.Function):
    """ReLU forward; backward passes ReLU(incoming signal), ignoring the forward mask: the deconvnet's rule
    (Springenberg et al. 2014 note that the deconvnet is this modified backward pass)."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        return g.clamp(min=0)


def features_with_deconv_relu(net: ZFNet, x: torch.Tensor) -> list[torch.Tensor]:
    a, p = [], x
    for conv in net.conv:
        a_l = DeconvReLU.apply(conv(p))
        p = F.max_pool2d(a_l, 2)
        a.append(a_l)
    return a


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_deconv_projection_equals_modified_backprop(layer):
    torch.manual_seed(0)
    net = ZFNet((4, 6, 8), (5, 3, 3), 16, 9, 32).double()
    x = torch.randn(5, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    a_L = features_with_deconv_relu(net, x)[layer - 1]
    B, C, H, W = a_L.shape
    unit, pos = torch.arange(B) % C, torch.stack([torch.arange(B) % H, (3 * torch.arange(B)) % W], 1)
    seed = torch.zeros_like(a_L)
    b = torch.arange(B)
    seed[b, unit, pos[:, 0], pos[:, 1]] = a_L.detach()[b, unit, pos[:, 0], pos[:, 1]]  # the activation itself
    (grad,) = torch.autograd.grad(a_L, x, grad_outputs=seed)
    R = project_units(net, x.detach(), layer, unit, pos)
    torch.testing.assert_close(R, grad, rtol=1e-6, atol=1e-6)
    assert R.abs().sum() > 0


def test_deconv_is_not_plain_backprop():
    """With the ordinary ReLU backward (forward mask) the result differs: the deconvnet's rectification is real."""
    torch.manual_seed(1)
    net = ZFNet((4, 6, 8), (5, 3, 3), 16, 9, 32).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    a, s, _ = net.features(x)
    R = torch.zeros_like(a[2])
    R[:, 0, 2, 2] = 1.0
    (grad,) = torch.autograd.grad(a[2], x, grad_outputs=R)
    assert not torch.allclose(deconv(net, [t.detach() for t in a], s, 3, R), grad)


def test_projection_stays_inside_the_receptive_field():
    torch.manual_seed(0)
    cfg = experiment.Config(widths=(4, 6, 8))
    net = ZFNet(cfg.widths, cfg.kernels, 16, 9, cfg.canvas).double()
    with torch.no_grad():  # positive weights: every pixel of the field is reached
        for conv in net.conv:
            conv.weight.abs_()
    x = torch.rand(4, 3, 32, 32, dtype=torch.float64)
    a_L = net.features(x)[0][-1]
    unit, pos = torch.zeros(4, dtype=torch.long), torch.tensor([[0, 0], [3, 4], [7, 7], [5, 1]])
    assert (a_L[torch.arange(4), unit, pos[:, 0], pos[:, 1]] > 0).all()
    R = project_units(net, x, 3, unit, pos)
    field = experiment.receptive_masks(cfg, pos)
    assert receptive_field(cfg.kernels, 3) == (4, 8)  # 4 + 2 * 8 = 20 pixels: counted by hand in model.py
    assert R.abs().sum(1)[~field].abs().max() == 0
    assert (R.abs().sum(1)[field] > 0).float().mean() > 0.3  # the field is reached, not a tiny corner of it


def test_filter_renormalisation_caps_rms_only():
    net = ZFNet((4,), (3,), 4, 2, 8)
    with torch.no_grad():
        net.conv[0].weight.zero_()
        net.conv[0].weight[0].fill_(1.0)  # RMS 1: scaled to the radius
        net.conv[0].weight[1].fill_(0.01)  # RMS 0.01: untouched
    renormalise_filters(net, 0.1)
    rms = net.conv[0].weight.pow(2).mean(dim=(1, 2, 3)).sqrt()
    torch.testing.assert_close(rms[:2], torch.tensor([0.1, 0.01]))


def test_occlusion_map_by_hand():
    """A net whose p(class 0) depends only on the top-left pixel: only squares covering it change anything."""
    cfg = experiment.Config(canvas=8, object_size=8, widths=(1,), kernels=(1,), occluder=2, occlusion_stride=2)
    net = ZFNet(cfg.widths, cfg.kernels, 1, 2, 8, p_drop=0.0)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.conv[0].weight[0, 0] = 1.0
        net.fc.weight[0, 0] = 1.0  # the pooled top-left 2x2 cell
        net.out.weight[0, 0] = 5.0
    x = torch.zeros(3, 8, 8)
    x[0, 0, 0] = 1.0
    p = experiment.occlusion_map(net, x, 0, cfg)
    corners = experiment.occluder_corners(cfg)
    assert len(corners) == 16
    changed = (p - p.max()).abs() > 1e-6
    assert changed.nonzero().flatten().tolist() == [0]  # only the square at (0, 0)
    torch.testing.assert_close(p[0], torch.tensor(0.5))  # covered: logits equal


def test_balanced_share():
    v = torch.tensor([4.0, 4.0, 1.0, 1.0, 1.0, 1.0])
    fg = torch.tensor([True, True, False, False, False, False])
    assert experiment.balanced_share(v, fg) == pytest.approx(0.8)  # 4 / (4 + 1), whatever the areas
    assert experiment.balanced_share(torch.ones(6), fg) == pytest.approx(0.5)


def test_occluded_pictures_take_the_groups_in_turn():
    y = torch.tensor([0, 0, 0, 1, 1, 2])
    assert experiment.in_turn(torch.tensor([0, 1, 2, 3, 4, 5]), y).tolist() == [0, 3, 5, 1, 4, 2]
    assert experiment.in_turn(torch.tensor([1, 2, 4]), y).tolist() == [1, 4, 2]


def test_placement_keeps_the_object_and_its_mask():
    g = torch.Generator().manual_seed(0)
    obj = torch.rand(5, 3, 4, 4)
    mask = torch.rand(5, 4, 4) > 0.5
    white = torch.tensor([0.1, 0.2, 0.3])
    x, m = experiment.place(obj, mask, 10, white, g, flip=False)
    for b in range(5):
        off = (x[b] != white[:, None, None]).any(0).nonzero().min(0).values  # the object's top-left corner
        i, j = int(off[0]), int(off[1])
        torch.testing.assert_close(x[b, :, i : i + 4, j : j + 4], obj[b])
        assert torch.equal(m[b, i : i + 4, j : j + 4], mask[b]) and m[b].sum() == mask[b].sum()


def test_foreground_masks_and_split():
    d = need(emoji.load, 20)
    fg = experiment.foreground(d["images"][:50], 245)
    assert 0.2 < fg.mean() < 0.9 and fg[:, 0, 0].mean() < 0.1  # corners are background
    cfg = experiment.Config()
    train, test = experiment.split(d, cfg)
    assert len(set(train.tolist()) & set(test.tolist())) == 0 and len(train) + len(test) == len(d["codes"])
    assert abs(len(test) / len(d["codes"]) - cfg.test_fraction) < 0.02
    assert experiment.base_key("1F44B 1F3FD") == experiment.base_key("1F44B") == "1F44B"
    d_all = need(emoji.load, 20, skin_tones=True)
    train_all, test_all = experiment.split(d_all, cfg)
    assert sorted(d_all["codes"][test_all.numpy()]) == sorted(d["codes"][test.numpy()])  # the same test set
    held = {experiment.base_key(c) for c in d_all["codes"][test_all.numpy()]}
    assert not held & {experiment.base_key(c) for c in d_all["codes"][train_all.numpy()]}  # no variant leaks


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(emoji.load, 20)
    whole, resumed = interrupt_and_resume(monkeypatch, "zeiler2014", experiment, "train_step", 4, "smoke", steps="5")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: one conv layer of one map with 1x1 filters, one hidden unit, a single-picture
    batch, one step, an emoji filling the canvas, a one-pixel occluder on one picture, one projection per unit."""
    result = run_preset(
        "zeiler2014", "smoke", canvas=8, object_size=8, widths="1", kernels="1", hidden=1, batch_size=1, steps=1,
        occluder=1, n_occlusion=1, top_k=1, figure_units=1, p_drop=0.0,
    )  # fmt: skip
    assert result.metrics["n_test"] > 0


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("zeiler2014", "quick"))
