"""The registry: papers/__init__.py lists the ids; a paper's module is imported only when asked for."""

from __future__ import annotations

import difflib
import importlib

from ..papers import IMPLEMENTED
from .errors import UserError
from .paper import Paper


class UnknownPaper(UserError, KeyError):
    def __init__(self, paper_id: str, suggestions: list[str]):
        self.paper_id, self.suggestions = paper_id, suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown paper id {paper_id!r}{hint} (`dlcanon list` shows them all)")

    def __str__(self):
        return self.args[0]


def implemented() -> list[str]:
    return list(IMPLEMENTED)


def get(paper_id: str) -> Paper:
    if paper_id not in IMPLEMENTED:
        raise UnknownPaper(paper_id, suggest(paper_id, IMPLEMENTED))
    module = importlib.import_module(f"dlcanon.papers.{paper_id}")
    paper = module.PAPER
    if paper.id != paper_id:
        raise RuntimeError(f"papers/{paper_id}/__init__.py defines PAPER.id={paper.id!r}")
    return paper


def suggest(word: str, choices, n: int = 3) -> list[str]:
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)
    prefix = [c for c in choices if word and c.startswith(word.rstrip("0123456789")[:4]) and c not in close]
    return (close + prefix)[:n]
