"""Views of the catalog: BibTeX, author statistics, and the builds-on graph (DOT or Mermaid)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

from . import Entry

_BIB_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}",
                 "~": r"\textasciitilde{}", **{ch: "\\" + ch for ch in "&%$#_"}}


def _bib_escape(text: str) -> str:
    """Text as LaTeX prints it literally. One pass, so no replacement is escaped again; literal braces become
    commands because BibTeX counts every brace, escaped or not, and one stray brace would break the entry."""
    return re.sub(r"[\\{}~&%$#_]", lambda m: _BIB_SPECIALS[m.group(0)], text)


# The field a venue goes in, per entry type (a book's venue is its publisher).
_VENUE_FIELD = {"article": "journal", "inproceedings": "booktitle", "incollection": "booktitle",
                "book": "publisher", "techreport": "institution", "phdthesis": "school", "misc": "howpublished"}
_ARXIV_VENUE = re.compile(r"arXiv:(\d{4}\.\d{4,5})(v\d+)?\b")


def _bib_url(url: str) -> str:
    """A url or DOI as BibTeX reads it: braces percent-encoded (they would unbalance the entry), % escaped."""
    return url.replace("{", "%7B").replace("}", "%7D").replace("%", r"\%")


def bibtex(entries: list[Entry]) -> str:
    """One BibTeX entry per paper, keyed by its id (each id once), typed by its `kind`.

    An entry without a kind is an @misc that points at its url. Text fields are escaped for LaTeX;
    the url and the doi are written as they are (styles typeset them verbatim), pages with an en dash.
    """
    out = []
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            continue
        seen.add(e.id)
        kind = e.kind or "misc"
        fields = [("author", " and ".join(map(_bib_escape, e.authors))), ("title", "{" + _bib_escape(e.title) + "}")]
        publisher = e.publisher
        if kind == "book":                      # a book's venue is its publisher
            publisher = publisher or e.venue
        elif e.venue:
            fields.append((_VENUE_FIELD[kind], _bib_escape(e.venue)))
        elif kind == "misc":
            fields.append(("howpublished", r"\url{" + _bib_url(e.url) + "}"))
        fields += [("volume", _bib_escape(e.volume or "")), ("number", _bib_escape(e.number or "")),
                   ("pages", re.sub(r"-+", "--", e.pages or "")), ("publisher", _bib_escape(publisher or "")),
                   ("year", str(e.year))]
        arxiv = _ARXIV_VENUE.search(e.venue or "")
        if arxiv:
            fields += [("eprint", arxiv.group(1)), ("archiveprefix", "arXiv")]
        fields += [("doi", _bib_url(e.doi or "")), ("url", _bib_url(e.url)), ("note", f"dlcanon: {e.era} era")]
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
        out.append(f"@{kind}{{{e.id},\n{body}\n}}")
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
