"""Hubel & Wiesel (1959): simple and complex cell models probed like cortical cells, and the first layer of a
CNN trained on real images (Fashion-MNIST) probed the same way.

Stage 1 (model cells): drifting sinusoidal gratings at many orientations, spatial frequencies and phases
(a drifting grating is the same grating stepped through its phases over time), small light and dark spots at
every position (the 1959 mapping method), and diffuse light.
Stage 2 (learned filters): a small CNN is trained on Fashion-MNIST twice from one random draw, with conv1 at
PyTorch's default scale and at one tenth of it; each first-layer filter is compared with its own random start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import Annotated, Range
from dlcanon.core.data import fashion_mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import ComplexCell, FirstLayerCNN, SimpleCell, coordinates


@dataclass
class Config:
    n_orientations: Annotated[int, Range(ge=2, le=180)] = 16
    """grating orientations over 180 degrees (even, so that the orthogonal one is in the set)"""
    n_phases: Annotated[int, Range(ge=3, le=64)] = 8
    """grating phases over one cycle (the frames of a drifting grating; at least 3, or the first harmonic F1
    is the Nyquist frequency and F1/F0 means nothing)"""
    n_freqs: Annotated[int, Range(ge=2, le=64)] = 8
    """spatial frequencies, spread evenly from one cycle per RF up to the Nyquist limit (0.5 cycle/px; at least 2,
    or only the lowest is probed)"""
    cell_wavelength: Annotated[float, Range(ge=3, le=10)] = 8.0
    """carrier wavelength of the model cells' Gabor RFs, pixels (at least 3: nearer the 2-px Nyquist limit the
    odd Gabor of the complex cell is no longer in quadrature; at most 10: the spot maps take (6.7 x this)^4
    float64 numbers, 400 MB at 10)"""
    n_train: Annotated[int, Range(ge=1, le=60_000)] = 8192
    """Fashion-MNIST training images used (the first n of the 60,000)"""
    n_test: Annotated[int, Range(ge=1, le=10_000)] = 2000
    """Fashion-MNIST test images used to report accuracy"""
    epochs: Annotated[int, Range(ge=1, le=100)] = 2
    """passes over the training images, for each arm"""
    batch_size: Annotated[int, Range(ge=1, le=1024)] = 64
    """images per Adam step"""
    lr: Annotated[float, Range(ge=1e-6, le=1)] = 1e-3
    """Adam step size (at least 1e-6: far smaller steps vanish against float32 weights, no filter moves and the
    paired z is 0/0)"""
    n_filters: Annotated[int, Range(ge=8, le=64)] = 16
    """first-layer filters (the units compared with cortical RFs; at least 8: with fewer, every filter of the
    small arm can start silent (negative bias, tiny weights), none moves, and the paired z is 0/0)"""
    kernel: Annotated[int, Range(ge=3, le=28)] = 7
    """first-layer kernel size, pixels (at least 3: the filters are probed from 1/kernel up to 0.5 cycle/px)"""
    small_init: Annotated[float, Range(ge=0.01, le=1)] = 0.1
    """conv1 init scale of the "small" arm (the "default" arm uses PyTorch's default, scale 1; at least 0.01,
    below which a filter whose bias starts negative never fires and never learns)"""
    default_arm: bool = True
    """also train the "default" arm (the same random draw at PyTorch's default scale)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.n_orientations % 2:
            raise ValueError(f"n_orientations must be even, so that the orthogonal orientation is in the set; "
                             f"got {self.n_orientations}")
        if self.n_orientations * self.n_freqs * self.n_phases > 2048:
            raise ValueError(f"n_orientations x n_freqs x n_phases must be at most 2048 gratings (all are held in "
                             f"memory at once); got {self.n_orientations} x {self.n_freqs} x {self.n_phases}")
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size must be at most n_train; got batch_size={self.batch_size} with "
                             f"n_train={self.n_train}")
        if self.batch_size * self.n_filters > 16_384:
            raise ValueError(f"batch_size x n_filters must be at most 16,384 (the first layer's output for a batch "
                             f"is held in memory); got {self.batch_size} x {self.n_filters}")
        if self.n_test * self.n_filters > 160_000:
            raise ValueError(f"n_test x n_filters must be at most 160,000 (the full preset's 10,000 x 16: all test "
                             f"images go through the net at once); got {self.n_test} x {self.n_filters}")


PRESETS = {
    "smoke": Config(n_orientations=8, n_phases=4, n_freqs=3, n_train=512, n_test=256, epochs=1),
    "quick": Config(),
    "full": Config(n_train=60000, n_test=10000, epochs=10),
}

_CELLS = "Model cells: Gabor RFs (wavelength 8 px, sigma 0.56 wavelength, aspect 0.5) probed with 16 x 8 x 8 gratings."
_LEARNED = (
    "Fashion-MNIST (real images; the paper's stimuli were spots and slits), conv1 16 filters 7 x 7, Adam; "
    "quick: 8,192 images x 2 epochs, full: 60,000 x 10. OSI from the grating energy summed over spatial "
    "frequency (see notes); paired over the same filters. The margin 0.1 is about one standard deviation of "
    "the OSI of random 7 x 7 filters (an effect size of 1), set from the control's spread, not the gains."
)

CLAIMS = [
    Claim(
        name="simple_cell_orientation_tuned",
        metric="simple_osi",
        op=">",
        threshold=0.5,
        paper_value="Cells respond best to a slit or edge at one orientation; little or nothing at right angles.",
        scale_note=_CELLS + " OSI = (R_pref - R_orth) / (R_pref + R_orth), R = mean rate over a drift cycle.",
    ),
    Claim(
        name="simple_cell_phase_sensitive",
        metric="simple_f1f0",
        op=">",
        threshold=1.0,
        paper_value="Separate excitatory and inhibitory areas: the response depends on where the light falls. "
        "F1/F0 > 1 as the simple-cell criterion is later work (Skottun et al. 1991).",
        scale_note=_CELLS + " F1/F0 of the response to the optimal drifting grating.",
    ),
    Claim(
        name="complex_cell_orientation_tuned",
        metric="complex_osi",
        op=">",
        threshold=0.5,
        paper_value="Complex cells (Hubel & Wiesel 1962) keep the orientation specificity.",
        scale_note=_CELLS + " Energy of a quadrature pair (Adelson & Bergen 1985), a later model.",
    ),
    Claim(
        name="complex_cell_phase_invariant",
        metric="complex_f1f0",
        op="<",
        threshold=0.3,
        paper_value="Complex cells (1962) respond wherever the correctly oriented slit falls in the field. "
        "F1/F0 < 1 as the complex-cell criterion: Skottun et al. (1991).",
        scale_note=_CELLS + " F1/F0 of the response to the optimal drifting grating; 0.3 is well inside < 1.",
    ),
    Claim(
        name="diffuse_light_ineffective",
        metric="simple_diffuse_over_optimal",
        op="<",
        threshold=0.2,
        paper_value="Summation within and antagonism between excitatory and inhibitory areas: diffuse light "
        "gives little or no response (the 1959 paper's central observation).",
        scale_note=_CELLS + " Simple cell: response to uniform light of contrast 1 over its best grating response.",
    ),
    Claim(
        name="simple_on_off_areas_separate",
        metric="simple_onoff_overlap",
        op="<",
        threshold=0.2,
        paper_value="Spot maps of 'on' (excitatory) and 'off' (inhibitory) areas do not overlap.",
        scale_note=_CELLS + " sum(min(on, off)) / sum(max(on, off)) over spot maps of light and dark 1-px spots.",
    ),
    Claim(
        name="learned_filters_oriented",
        metric="osi_learned",
        minus="osi_init",
        op=">",
        threshold=0.1,
        paper_value="(not in the paper) the link drawn later: first-layer filters of trained CNNs look like "
        "oriented simple-cell RFs (e.g. Krizhevsky et al. 2012, Fig. 3).",
        scale_note=_LEARNED + " Arm with PyTorch's default init.",
        known_fail=(
            "At PyTorch's default init the 7 x 7 filters move only ~40% of their norm from their random start in "
            "quick and still look like noise: gain 0.06 on seed 0 (0.06, 0.11, 0.01 on seeds 0-2). The longer "
            "full run (60k x 10 epochs, CPU) gave 0.094, 0.125, 0.093 on seeds 0-2 (paired z 1.8, 2.2, 1.8): "
            "consistently positive, but around the margin and not significant on 16 filters."
        ),
    ),
    Claim(
        name="learned_filters_oriented_small_init",
        metric="osi_learned_small",
        minus="osi_init_small",
        op=">",
        threshold=0.1,
        paper_value="(not in the paper) as above.",
        scale_note=_LEARNED + " Arm whose conv1 starts at 0.1 x the default scale (chosen among 1, 0.1, 0.01 "
        "after trials on seeds 0-2: a selected setting, see notes). OSI is scale free, so its random control "
        "is distributed exactly as the default arm's. At quick scale seeds 0/1/2 gave 0.25/0.23/0.03: "
        "it holds on seed 0 (the tested one) and 1, not on 2.",
        known_fail=(
            "Seed-fragile: the gain holds on seeds 0 and 1 at quick scale (0.25, 0.23) but not on seed 2 "
            "(0.02-0.03, re-measured in session 2), so one passing seed is not counted as a reproduction. The "
            "init scale was itself chosen after trials; more filters or seeds are the next thing to try."
        ),
    ),
    Claim(
        name="learned_filters_oriented_small_init_significant",
        metric="osi_gain_z_small",
        op=">",
        threshold=3.0,
        paper_value="(not in the paper) as above.",
        scale_note="Paired z over the 16 filters, mean(gain) / (sd(gain) / 4); z > 3 is one-sided p ~ 0.001. "
        "Holds on seed 0 (quick 3.5, full 3.3); full seeds 1 and 2 gave 2.4 and 2.5: a borderline bar.",
        known_fail=(
            "Seed-fragile: z > 3 holds on seed 0 (quick 3.5, full 3.3) but not on seeds 1 and 2 at full scale "
            "(2.4, 2.5), so we do not count it as reproduced even when the tested seed passes. 16 filters give "
            "a noisy paired test; more filters or seeds are the next thing to try."
        ),
    ),
]


# --------------------------------------------------------------------------------------------- stimuli


def gratings(n: int, thetas: torch.Tensor, freqs: torch.Tensor, phases: torch.Tensor) -> torch.Tensor:
    """Sinusoidal gratings of contrast 1 with bars at orientation theta, (n_theta, n_f, n_phi, n, n) float64:
    s = cos(2 pi f b + phi), b the distance across the bars (the same convention as model.gabor)."""
    x, y = coordinates(n, 0.0)  # column and row offsets from the centre, (n, n)
    b = -x * torch.sin(thetas)[:, None, None] + y * torch.cos(thetas)[:, None, None]  # (n_theta, n, n)
    arg = 2 * math.pi * freqs[None, :, None, None, None] * b[:, None, None] + phases[None, None, :, None, None]
    return torch.cos(arg)  # (n_theta, n_f, n_phi, n, n)


def probe_axes(cfg: Config, n_rf: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Orientations (0..pi), spatial frequencies (1/n_rf .. 0.5 cycle/px) and phases (0..2 pi), float64."""
    thetas = torch.arange(cfg.n_orientations, dtype=torch.float64) * math.pi / cfg.n_orientations
    freqs = torch.linspace(1.0 / n_rf, 0.5, cfg.n_freqs, dtype=torch.float64)
    phases = torch.arange(cfg.n_phases, dtype=torch.float64) * 2 * math.pi / cfg.n_phases
    return thetas, freqs, phases


# ------------------------------------------------------------------------------------------ measures


def harmonics(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """F0 (mean) and F1 (amplitude of the first harmonic) over the last dim, one drift cycle: (...)."""
    phi = torch.arange(r.shape[-1], dtype=r.dtype) * 2 * math.pi / r.shape[-1]
    F1 = 2 * torch.sqrt((r * torch.cos(phi)).mean(-1) ** 2 + (r * torch.sin(phi)).mean(-1) ** 2)
    return r.mean(-1), F1


def osi(R: torch.Tensor) -> torch.Tensor:
    """(R_pref - R_orth) / (R_pref + R_orth) over the last dim (orientations spanning 180 deg), (...)."""
    n = R.shape[-1]
    pref = R.argmax(-1, keepdim=True)
    R_pref, R_orth = R.gather(-1, pref), R.gather(-1, (pref + n // 2) % n)
    return ((R_pref - R_orth) / (R_pref + R_orth).clamp_min(1e-30))[..., 0]


def one_minus_cv(R: torch.Tensor, thetas: torch.Tensor) -> torch.Tensor:
    """1 - circular variance: |sum R e^{2i theta}| / sum R over the last dim, (...)."""
    z = (R * torch.cos(2 * thetas)).sum(-1) + 1j * (R * torch.sin(2 * thetas)).sum(-1)
    return z.abs() / R.sum(-1).clamp_min(1e-30)


def cell_measures(cell, cfg: Config, n: int, name: str) -> dict[str, float]:
    """Drifting gratings: OSI of the mean rate F0 at the preferred frequency, F1/F0 at the preferred
    (orientation, frequency); spot maps; diffuse light. Returns `<name>_...` metrics."""
    thetas, freqs, phases = probe_axes(cfg, n // 2)
    r = cell(gratings(n, thetas, freqs, phases))  # (n_theta, n_f, n_phi)
    F0, F1 = harmonics(r)  # (n_theta, n_f)
    i_theta, i_f = divmod(int(F0.argmax()), F0.shape[1])
    on, off = spot_maps(cell, n)
    return {
        f"{name}_osi": osi(F0[:, i_f]).item(),
        f"{name}_1mcv": one_minus_cv(F0[:, i_f], thetas).item(),
        f"{name}_f1f0": (F1[i_theta, i_f] / F0[i_theta, i_f]).item(),
        f"{name}_pref_theta_deg": math.degrees(thetas[i_theta].item()),
        f"{name}_onoff_overlap": (torch.minimum(on, off).sum() / torch.maximum(on, off).sum()).item(),
        f"{name}_diffuse_over_optimal": (cell(torch.ones(n, n)) / r.max()).item(),
    }


def spot_maps(cell, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1959 method: a small light spot (contrast +1) and a dark one (-1) at every pixel, (n, n) each."""
    spots = torch.eye(n * n, dtype=torch.float64).reshape(n * n, n, n)  # one 1-px spot per position
    return cell(spots).reshape(n, n), cell(-spots).reshape(n, n)


def filter_tuning(W: torch.Tensor, cfg: Config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear filters W (C, k, k) probed with gratings: broadband tuning R(theta) = rms over frequencies of the
    drift-cycle amplitude F1, (C, n_theta); the same at each filter's preferred frequency; the orientations."""
    k = W.shape[-1]
    thetas, freqs, phases = probe_axes(cfg, k)
    r = torch.einsum("cij,tfpij->ctfp", W.double(), gratings(k, thetas, freqs, phases))  # (C, n_theta, n_f, n_phi)
    F1 = harmonics(r)[1]  # (C, n_theta, n_f)
    broadband = F1.pow(2).mean(-1).sqrt()  # (C, n_theta)
    i_f = F1.amax(1).argmax(-1)  # (C,) preferred frequency
    at_pref = F1.gather(2, i_f[:, None, None].expand(-1, F1.shape[1], 1))[..., 0]  # (C, n_theta)
    return broadband, at_pref, thetas


# ------------------------------------------------------------------------------------- learned filters


def load_images(cfg: Config) -> dict[str, torch.Tensor]:
    """The first n_train / n_test Fashion-MNIST images, standardised with the training mean and std."""
    raw = fashion_mnist.load()
    x = torch.from_numpy(raw["train_x"][: cfg.n_train]).float()[:, None] / 255.0  # (n, 1, 28, 28)
    x_test = torch.from_numpy(raw["test_x"][: cfg.n_test]).float()[:, None] / 255.0
    mu, sd = x.mean(), x.std()
    return {"x": (x - mu) / sd, "y": torch.from_numpy(raw["train_y"][: cfg.n_train]).long(),
            "x_test": (x_test - mu) / sd, "y_test": torch.from_numpy(raw["test_y"][: cfg.n_test]).long()}


def train_arms(cfg: Config, ctx, d: dict[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """Both arms from one random draw (same seed, conv1 scaled), trained side by side on the same batches."""
    arms, opts, inits = {}, {}, {}
    for name, scale in (("default", 1.0), ("small", cfg.small_init))[0 if cfg.default_arm else 1 :]:
        torch.manual_seed(ctx.seed)
        arms[name] = FirstLayerCNN(cfg.n_filters, cfg.kernel, init_scale=scale).to(ctx.device)
        inits[name] = arms[name].filters().cpu()
        opts[name] = torch.optim.Adam(arms[name].parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(ctx.seed + 1)
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        for name in arms:
            arms[name].load_state_dict(state[name])
            opts[name].load_state_dict(state[f"opt_{name}"])
        g.set_state(state["g"])
    x, y = d["x"].to(ctx.device), d["y"].to(ctx.device)
    with ctx.bar(cfg.epochs - start, "epochs") as bar:
        for epoch in range(start, cfg.epochs):
            perm = torch.randperm(len(x), generator=g).to(ctx.device)
            logs = {f"loss_{name}": 0.0 for name in arms}
            for i in range(0, len(perm), cfg.batch_size):
                j = perm[i : i + cfg.batch_size]
                for name, net in arms.items():
                    loss = F.cross_entropy(net(x[j]), y[j])
                    opts[name].zero_grad(set_to_none=True)
                    loss.backward()
                    opts[name].step()
                    logs[f"loss_{name}"] += loss.item() * len(j) / len(x)
            for name, net in arms.items():
                logs[f"osi_{name}"] = osi(filter_tuning(net.filters().cpu(), cfg)[0]).mean().item()
            ctx.log(epoch + 1, **logs)
            bar.update(1, loss=logs["loss_small"])
            state = {name: net.state_dict() for name, net in arms.items()}
            state |= {f"opt_{name}": opt.state_dict() for name, opt in opts.items()} | {"g": g.get_state()}
            ctx.checkpoint(epoch + 1, state)
    return arms, inits


def learned_measures(cfg: Config, arms: dict, inits: dict, d: dict) -> dict[str, float]:
    m = {}
    for name, net in arms.items():
        sfx = "" if name == "default" else "_small"
        W1, W0 = net.filters().cpu(), inits[name]
        (bb1, pf1, thetas), (bb0, pf0, _) = filter_tuning(W1, cfg), filter_tuning(W0, cfg)
        gain = osi(bb1) - osi(bb0)  # (C,) paired over filters
        with torch.no_grad():
            acc = (net(d["x_test"].to(next(net.parameters()).device)).argmax(1).cpu() == d["y_test"]).float()
        m |= {
            f"osi_learned{sfx}": osi(bb1).mean().item(),
            f"osi_init{sfx}": osi(bb0).mean().item(),
            f"osi_gain_z{sfx}": (gain.mean() / (gain.std() / math.sqrt(len(gain)))).item(),
            f"osi_init_sd{sfx}": osi(bb0).std().item(),
            f"one_minus_cv_learned{sfx}": one_minus_cv(bb1, thetas).mean().item(),
            f"one_minus_cv_init{sfx}": one_minus_cv(bb0, thetas).mean().item(),
            f"osi_pref_sf_learned{sfx}": osi(pf1).mean().item(),
            f"osi_pref_sf_init{sfx}": osi(pf0).mean().item(),
            f"weight_change{sfx}": ((W1 - W0).norm() / W0.norm()).item(),
            f"test_accuracy{sfx}": acc.mean().item(),
        }
    return m


# ---------------------------------------------------------------------------------------------- run


def run(cfg: Config, ctx) -> dict[str, float]:
    n = 2 * math.ceil(6 * 0.56 * cfg.cell_wavelength) + 1  # RF window: 6 sigma each side of the centre
    simple = SimpleCell(n, wavelength=cfg.cell_wavelength)
    complex_ = ComplexCell(n, wavelength=cfg.cell_wavelength)
    metrics = cell_measures(simple, cfg, n, "simple") | cell_measures(complex_, cfg, n, "complex")
    figures.cell_fields(simple, complex_, *spot_maps(simple, n), metrics["simple_onoff_overlap"], ctx.path("cells.png"))
    profiles = {"simple": cell_profile(simple, cfg, n), "complex": cell_profile(complex_, cfg, n)}
    figures.cell_tuning(profiles, metrics, ctx.path("tuning.png"))
    d = load_images(cfg)
    arms, inits = train_arms(cfg, ctx, d)
    metrics |= learned_measures(cfg, arms, inits, d)
    figures.filter_osi(filter_osis(cfg, arms, inits), metrics, ctx.path("filter_osi.png"))
    figures.filter_mosaic(arms, inits, ctx.path("filters.png"))
    return metrics


# ----------------------------------------------------------------------------- what the figures draw


def cell_profile(cell, cfg: Config, n: int) -> dict:
    """Orientation tuning F0(theta) at the preferred frequency and the rate over one drift cycle at the preferred
    (orientation, frequency), each divided by its largest value."""
    thetas, freqs, phases = probe_axes(cfg, n // 2)
    r = cell(gratings(n, thetas, freqs, phases))  # (n_theta, n_f, n_phi)
    F0 = harmonics(r)[0]  # (n_theta, n_f)
    i_t, i_f = divmod(int(F0.argmax()), F0.shape[1])
    return {"theta_deg": torch.rad2deg(thetas).numpy(), "tuning": (F0[:, i_f] / F0.max()).numpy(),
            "phase_deg": torch.rad2deg(phases).numpy(), "cycle": (r[i_t, i_f] / r[i_t, i_f].max()).numpy(),
            "pref_deg": math.degrees(thetas[i_t].item())}  # fmt: skip


def filter_osis(cfg: Config, arms: dict, inits: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per arm, each filter's OSI at its random start and after training (the pairs behind osi_gain_z)."""
    return {name: (osi(filter_tuning(inits[name], cfg)[0]), osi(filter_tuning(net.filters().cpu(), cfg)[0]))
            for name, net in arms.items()}  # fmt: skip
