"""Views of the catalog: BibTeX, author statistics, and the builds-on graph (DOT or Mermaid)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

from . import Entry


def _bib_escape(text: str) -> str:
    text = text.replace("\\", r"\textbackslash{}")
    for ch in "&%$#_":
        text = text.replace(ch, "\\" + ch)
    return text.replace("{", r"\{").replace("}", r"\}").replace("~", r"\textasciitilde{}")


def bibtex(entries: list[Entry]) -> str:
    out = []
    for e in entries:
        fields = [("title", "{" + _bib_escape(e.title) + "}"), ("author", " and ".join(map(_bib_escape, e.authors))),
                  ("year", str(e.year)), ("url", e.url.replace("%", r"\%")), ("note", f"dlcanon: {e.era} era")]
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
        out.append(f"@misc{{{e.id},\n{body}\n}}")
    return "\n\n".join(out) + ("\n" if out else "")


def author_key(name: str) -> str:
    """One spelling per person: accents folded, initials and spacing normalised ("Y. LeCun" ~ "Yann LeCun")."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = re.sub(r"[.\s]+", " ", plain).strip().split(" ")
    if not parts or not parts[0]:
        return name
    return f"{parts[0][0]}. {parts[-1]}".lower() if len(parts) > 1 else parts[0].lower()


def author_stats(entries: list[Entry], top: int = 15) -> dict:
    """Most papers per author, most frequent collaborator pairs, and team sizes."""
    display: dict[str, str] = {}
    papers: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for e in entries:
        keys = []
        for a in e.authors:
            if a == "others":                   # BibTeX's marker for an abridged list, not a person
                continue
            k = author_key(a)
            display.setdefault(k, a)
            if len(a) > len(display[k]):
                display[k] = a                   # prefer the fullest spelling seen
            keys.append(k)
        keys = sorted(set(keys))
        papers.update(keys)
        pairs.update(itertools.combinations(keys, 2))
    sizes = [len(e.authors) for e in entries]
    return {
        "papers": len(entries),
        "authors": len(papers),
        "mean_team_size": round(sum(sizes) / len(sizes), 2) if sizes else 0.0,
        "most_papers": [{"author": display[k], "papers": n} for k, n in papers.most_common(top)],
        "collaborations": [{"authors": [display[a], display[b]], "papers": n}
                           for (a, b), n in pairs.most_common(top) if n > 1],
    }


def graph(entries: list[Entry], fmt: str = "dot") -> str:
    ids = {e.id for e in entries}
    edges = [(b, e.id) for e in entries for b in e.builds_on if b in ids]
    if fmt == "mermaid":
        lines = ["graph LR"]
        lines += [f'  {e.id}["{e.id}: {_mermaid_escape(e.title[:40])}"]' for e in entries]
        lines += [f"  {a} --> {b}" for a, b in edges]
        return "\n".join(lines) + "\n"
    lines = ["digraph dlcanon {", "  rankdir=LR;", '  node [shape=box, fontsize=10];']
    for e in entries:
        label = f"{e.id}\\n{e.title[:40]}".replace('"', "'")
        lines.append(f'  "{e.id}" [label="{label}"];')
    lines += [f'  "{a}" -> "{b}";' for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "'").replace("[", "(").replace("]", ")")
