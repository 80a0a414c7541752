"""`dlcanon new ID`: a paper folder started from its catalog entry, on the contract every paper keeps.

The folder passes the contract tests from the first minute (four files, notes sections, a Config with declared
ranges and docstrings, three presets, a claim judged in quick mode, a test that runs quick), but its one claim
is a visible known-fail that says the paper is not implemented yet: a scaffold is never mistaken for a result.
"""

from __future__ import annotations

import re
from pathlib import Path

from .catalog import Entry

PAPERS = Path(__file__).resolve().parent / "papers"


def files(e: Entry) -> dict[str, str]:
    who = e.authors[0].split()[-1] + (" et al." if len(e.authors) > 2 else
                                      f" & {e.authors[1].split()[-1]}" if len(e.authors) == 2 else "")
    head = f"{who} ({e.year}), {e.title}."
    return {
        "__init__.py": f'"""{head}"""\n\nfrom dlcanon.core.paper import Paper\n\nfrom . import experiment\n\n'
                       f'PAPER = Paper(id="{e.id}", presets=experiment.PRESETS, run=experiment.run, '
                       f'claims=experiment.CLAIMS)\n',
        "model.py": f'"""{head}\n\nThe system itself, in the paper\'s notation (equations and section in each '
                    f'docstring).\n"""\n\n'
                    f"from __future__ import annotations\n\nimport torch\nfrom torch import nn\n\n\n"
                    f"class Model(nn.Module):\n    \"\"\"TODO: the paper's system (Eq. ..., Section ...).\"\"\"\n\n"
                    f"    def __init__(self, d: int):\n        super().__init__()\n"
                    f"        self.W = nn.Parameter(torch.zeros(d, d))\n\n"
                    f"    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                    f"        return x @ self.W  # (B, d) @ (d, d) -> (B, d)\n",
        "experiment.py": _EXPERIMENT.format(head=head, id=e.id),
        "notes.md": _NOTES.format(title=e.title, authors=", ".join(e.authors), year=e.year, id=e.id,
                                  question=e.question, url=e.url),
        f"test_{e.id}.py": f'"""{head}: mechanism tests, then the quick claims."""\n\n'
                           f"from dlcanon.core.testing import assert_claims, run_preset\n\n\n"
                           f"def test_quick_claims():\n"
                           f'    assert_claims(run_preset("{e.id}", "quick"))\n',
    }


_EXPERIMENT = '''"""{head}

TODO: the experiment in the paper's own terms: what is trained on which real data, and what is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dlcanon.core.config import Annotated, Range
from dlcanon.core.paper import Claim

from .model import Model


@dataclass
class Config:
    d: Annotated[int, Range(ge=1, le=4096)] = 8
    """TODO: a size, with what the paper used"""
    steps: Annotated[int, Range(ge=1, le=100_000)] = 10
    """TODO: training steps"""


PRESETS = {{
    "smoke": Config(steps=2),
    "quick": Config(),
    "full": Config(steps=100),
}}

CLAIMS = [
    Claim(
        name="implemented",
        metric="implemented",
        op=">=",
        threshold=1.0,
        paper_value="TODO: the paper's own figure or statement",
        scale_note="TODO: how our scale differs from the paper's",
        known_fail="scaffold from `dlcanon new {id}`: the paper is not implemented yet",
    ),
]


def run(cfg: Config, ctx) -> dict[str, float]:
    model = Model(cfg.d).to(ctx.device)
    x = torch.randn(4, cfg.d, device=ctx.device)
    return {{"implemented": 0.0, "output_norm": float(model(x).norm())}}
'''

_NOTES = """# {title} ({authors}, {year})

Paper: {url}

## The question and the answer

{question} TODO: our answer, in a paragraph, once the experiment runs.

## The claims

TODO: each claim, the paper's own figure, and why our threshold is what it is (set before any run).

## Equations to code

| paper | code |
|---|---|
| TODO | `model.py` |

## Deviations

This folder is a scaffold made by `dlcanon new {id}` from the catalog entry. Nothing of the paper is implemented
yet: the model is a placeholder, the data is random, and the only claim is a known-fail that says so. Replace
all of it, then list here every way our setting differs from the paper's (data, sizes, steps, optimiser) and why.

## Results

<!-- results:start -->
<!-- results:end -->
"""


def create(e: Entry, papers: Path = PAPERS) -> Path:
    """Write the folder and add the id to papers/__init__.py (in year order). Refuses to overwrite anything."""
    from .core.errors import UserError

    folder = papers / e.id
    if folder.exists():
        raise UserError(f"{folder} already exists; `dlcanon new` never overwrites a paper")
    registry = papers / "__init__.py"
    text = registry.read_text()
    ids = re.findall(r'^    "([a-z]+\d{4}[a-z]?)",$', text, re.M)
    if e.id in ids:
        raise UserError(f"{e.id} is already listed in {registry}")
    folder.mkdir()
    for name, body in files(e).items():
        (folder / name).write_text(body)
    later = [i for i in ids if int(re.search(r"\d{4}", i).group()) > e.year]
    line = f'    "{e.id}",\n'
    at = text.index(f'    "{later[0]}",\n') if later else text.rindex("]")
    registry.write_text(text[:at] + line + text[at:])
    return folder
