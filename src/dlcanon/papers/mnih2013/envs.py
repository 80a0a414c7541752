"""The environments the agents play, behind one small interface (plumbing, not the paper's subject).

Each is one agent's emulator: reset() -> phi_1, step(a) -> (phi_{t+1}, r_t, terminal, episode_over), with phi a
uint8 tensor (C, H, W) and a in 0..n_actions-1. snapshot()/restore() carry the whole emulator state (its random
generator included) through a checkpoint, so a killed run resumes exactly.

- MinAtar Breakout (Young & Tian 2019): a 10x10 Breakout whose state is already a stack of 4 binary channels
  (paddle, ball, the ball's trail, bricks); the trail gives the ball's direction, as frame stacking does on Atari.
- Atari through ale-py (ROMs ship in the wheel): the paper's own setting, with phi of Sec. 4.1 (model.preprocess)
  applied to every k-th grey frame and the last 4 stacked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from .model import preprocess

ATARI_GAMES = ("Breakout", "Pong", "Enduro", "BeamRider", "Seaquest", "SpaceInvaders", "Qbert")


def minatar_game(game: str):
    """MinAtar's game class, loaded from its file: `import minatar` also imports seaborn (about 3 s of CPU) for
    its display code, which we do not use. The game code itself is MinAtar's, unchanged."""
    spec = importlib.util.find_spec("minatar")
    if spec is None:
        raise ModuleNotFoundError("MinAtar is not installed: pip install minatar")
    path = Path(spec.submodule_search_locations[0]) / "environments" / f"{game}.py"
    module_spec = importlib.util.spec_from_file_location(f"_minatar_{game}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.Env


class MinAtar:
    """MinAtar's Breakout: 3 actions (no-op, left, right), +1 per brick, terminal when the ball is missed. Sticky
    actions and seeding as minatar.Environment does them (a test plays both side by side)."""

    def __init__(self, game: str, seed: int, sticky_action_prob: float, max_episode_steps: int):
        self.game = minatar_game(game)()
        self.random = self.game.random = np.random.RandomState(seed)  # one generator, as Environment.seed does
        self.sticky_action_prob, self.last_action = sticky_action_prob, 0
        self.actions = self.game.minimal_action_set()
        self.n_actions, self.max_episode_steps, self.steps = len(self.actions), max_episode_steps, 0
        self.state_shape, self.dtype = (self.game.state_shape()[2], 10, 10), torch.uint8

    def phi(self) -> torch.Tensor:
        return torch.from_numpy(self.game.state()).permute(2, 0, 1).to(torch.uint8)  # (10,10,C) -> (C,10,10)

    def reset(self) -> torch.Tensor:
        self.game.reset()
        self.steps = 0
        return self.phi()

    def step(self, a: int) -> tuple[torch.Tensor, float, bool, bool]:
        a = self.actions[a]
        if self.random.rand() < self.sticky_action_prob:  # the emulator repeats the previous action instead
            a = self.last_action
        self.last_action = a
        r, terminal = self.game.act(a)
        self.steps += 1
        return self.phi(), float(r), bool(terminal), bool(terminal) or self.steps >= self.max_episode_steps

    def snapshot(self) -> dict:
        game = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(self.game).items()
                if k not in ("channels", "action_map", "random")}  # fmt: skip
        return {"game": game, "rng": list(self.random.get_state()), "last_action": self.last_action,
                "steps": self.steps}  # fmt: skip

    def restore(self, snap: dict) -> None:
        for k, v in snap["game"].items():
            setattr(self.game, k, v.copy() if isinstance(v, np.ndarray) else v)
        self.random.set_state(tuple(snap["rng"]))
        self.last_action, self.steps = int(snap["last_action"]), int(snap["steps"])


class Atari:
    """An Atari 2600 game through ale-py: the minimal action set, frame skip k inside the emulator (the agent sees
    and acts on every k-th frame, its action repeated in between), phi = the last 4 preprocessed frames."""

    def __init__(self, game: str, seed: int, frame_skip: int, max_episode_steps: int):
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)
        self.env = gym.make(
            f"ALE/{game}-v5",
            obs_type="grayscale",
            frameskip=frame_skip,
            repeat_action_probability=0.0,  # deterministic emulator, as in 2013 (v5's default is sticky 0.25)
            max_num_frames_per_episode=max_episode_steps * frame_skip,
        )
        self.seed, self.seeded = seed, False
        self.n_actions, self.state_shape, self.dtype = int(self.env.action_space.n), (4, 84, 84), torch.uint8
        self.frames = torch.zeros(self.state_shape, dtype=torch.uint8)

    def push(self, frame: np.ndarray) -> torch.Tensor:
        self.frames = torch.cat([self.frames[1:], preprocess(torch.from_numpy(frame))[None]])  # (4, 84, 84)
        return self.frames

    def reset(self) -> torch.Tensor:
        frame, _ = self.env.reset(seed=None if self.seeded else self.seed)
        self.seeded = True
        self.frames.zero_()
        for _ in range(4):  # the first state repeats the first frame, so phi is defined from t = 1
            self.push(frame)
        return self.frames

    def step(self, a: int) -> tuple[torch.Tensor, float, bool, bool]:
        frame, r, terminated, truncated, _ = self.env.step(a)
        return self.push(frame), float(r), bool(terminated), bool(terminated or truncated)

    def snapshot(self) -> dict:
        ale = self.env.unwrapped.ale
        blob = np.frombuffer(ale.cloneState(include_rng=True).serialize(), dtype=np.uint8).copy()
        return {"ale": blob, "frames": self.frames.clone(), "seeded": self.seeded}

    def restore(self, snap: dict) -> None:
        import ale_py

        self.env.unwrapped.ale.restoreState(ale_py.ALEState(bytes(np.asarray(snap["ale"]).tobytes())))
        self.frames, self.seeded = snap["frames"].clone(), bool(snap["seeded"])


class CartPole:
    """Gymnasium's CartPole-v1 (Barto, Sutton & Anderson 1983): 2 actions, +1 per step while the pole stands,
    terminal when it falls or the cart leaves the track, cut off (not terminal) after max_episode_steps (v1: 500).
    phi is the 4-number state itself (float32): there are no frames to preprocess or stack."""

    def __init__(self, seed: int, max_episode_steps: int):
        from gymnasium.envs.classic_control.cartpole import CartPoleEnv

        self.env, self.seed, self.seeded = CartPoleEnv(), seed, False
        self.n_actions, self.state_shape, self.dtype = 2, (4,), torch.float32
        self.max_episode_steps, self.steps = max_episode_steps, 0

    def reset(self) -> torch.Tensor:
        obs, _ = self.env.reset(seed=None if self.seeded else self.seed)
        self.seeded, self.steps = True, 0
        return torch.from_numpy(obs)

    def step(self, a: int) -> tuple[torch.Tensor, float, bool, bool]:
        obs, r, terminated, _, _ = self.env.step(a)
        self.steps += 1
        return (
            torch.from_numpy(obs),
            float(r),
            bool(terminated),
            bool(terminated) or self.steps >= self.max_episode_steps,
        )

    def snapshot(self) -> dict:
        return {"state": np.array(self.env.state, dtype=np.float64), "rng": self.env.np_random.bit_generator.state,
                "beyond": self.env.steps_beyond_terminated, "steps": self.steps, "seeded": self.seeded}  # fmt: skip

    def restore(self, snap: dict) -> None:
        self.env.state = np.array(snap["state"], dtype=np.float64)
        self.env.np_random.bit_generator.state = snap["rng"]
        self.env.steps_beyond_terminated, self.steps, self.seeded = snap["beyond"], int(snap["steps"]), snap["seeded"]


def make(env_name: str, seed: int, frame_skip: int, sticky_action_prob: float, max_episode_steps: int):
    """'minatar:breakout', 'gym:CartPole-v1' or 'atari:Breakout' (any game in ATARI_GAMES)."""
    kind, game = env_name.split(":")
    if kind == "gym":
        return CartPole(seed, max_episode_steps)
    if kind == "minatar":
        return MinAtar(game, seed, sticky_action_prob, max_episode_steps)
    return Atari(game, seed, frame_skip, max_episode_steps)


class Members:
    """The E agents' emulators stepped together: phi (E, C, H, W), per-member episode returns and the returns of the
    episodes each has finished (unclipped game score, as the paper reports)."""

    def __init__(self, envs: list):
        self.envs = envs
        self.phi = torch.stack([env.reset() for env in envs])  # (E, C, H, W)
        self.G = torch.zeros(len(envs))  # return of the episode in progress
        self.finished: list[list[float]] = [[] for _ in envs]

    def step(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every member acts a[e]; returns (phi_t, r_t, phi_{t+1}, terminal). Finished episodes restart, so
        self.phi is the next state to act on (the first state of a new episode after one ends)."""
        phi_t, out = self.phi, [env.step(int(a_e)) for env, a_e in zip(self.envs, a, strict=True)]
        phi_next = torch.stack([o[0] for o in out])
        r = torch.tensor([o[1] for o in out])
        terminal = torch.tensor([o[2] for o in out])
        self.G += r
        self.phi = phi_next.clone()
        for e, (_, _, _, over) in enumerate(out):
            if over:
                self.finished[e].append(float(self.G[e]))
                self.G[e] = 0.0
                self.phi[e] = self.envs[e].reset()
        return phi_t, r, phi_next, terminal

    def snapshot(self) -> dict:
        return {"envs": [env.snapshot() for env in self.envs], "phi": self.phi, "G": self.G,
                "finished": [list(f) for f in self.finished]}  # fmt: skip

    def restore(self, snap: dict) -> None:
        for env, s in zip(self.envs, snap["envs"], strict=True):
            env.restore(s)
        self.phi, self.G = snap["phi"].clone(), snap["G"].clone()
        self.finished = [list(map(float, f)) for f in snap["finished"]]


@torch.no_grad()
def evaluate(Q, envs: list, episodes: int, eps: float, generator: torch.Generator, device) -> torch.Tensor:
    """Each member plays `episodes` whole episodes epsilon-greedily on its own evaluation emulator (Sec. 5: eps =
    0.05); Q=None plays uniformly at random. Returns the mean score per member (E,)."""
    from .model import epsilon_greedy

    members = Members(envs)
    E, n_actions = len(envs), envs[0].n_actions
    while min(len(f) for f in members.finished) < episodes:
        q = Q(members.phi[:, None].to(device))[:, 0] if Q is not None else torch.zeros(E, n_actions)
        members.step(epsilon_greedy(q, 1.0 if Q is None else eps, generator))
    return torch.tensor([sum(f[:episodes]) / episodes for f in members.finished])
