"""The canon as data: every paper named in the seed guides, with its facts, era and lineage.

`papers.toml` holds one `[[paper]]` table per paper and `eras.toml` one `[[era]]` table per era.
`load_catalog()` reads both, checks them, and returns a `Catalog`:

    >>> cat = load_catalog()
    >>> cat["lecun1989"].title
    'Handwritten Digit Recognition with a Back-Propagation Network'

Pure standard library (no torch): the CLI and the web guide import it cheaply.
"""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "TIERS", "Catalog", "CatalogError", "Entry", "Era", "load_catalog"]

TIERS = ("canon", "also", "milestone", "top100")
# BibTeX entry types an entry's `kind` may name.
KINDS = ("article", "inproceedings", "book", "incollection", "techreport", "phdthesis", "misc")
ID_PATTERN = re.compile(r"^[a-z]+\d{4}[a-z]?$")
ERA_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/[^\s{}\\]+$")          # a bare DOI: no "doi:" or https://doi.org/ prefix
PAGES_PATTERN = re.compile(r"^[A-Za-z]*\d+[A-Za-z]*(-[A-Za-z]*\d+[A-Za-z]*)?$")  # "115-133", "42", "e1002"

_REQUIRED = {  # field -> expected type, for papers.toml
    "id": str, "year": int, "title": str, "authors": list, "url": str, "era": str,
    "tiers": list, "concepts": list, "question": str, "builds_on": list,
}
_BIBLIO = ("venue", "kind", "volume", "number", "pages", "doi", "publisher")  # where and how it was published
_OPTIONAL = {"title_zh": str, **{field: str for field in _BIBLIO}}
_ERA_FIELDS = {"id": str, "name": str, "start": int, "end": int, "summary": str}


class CatalogError(ValueError):
    """The catalog data is malformed, or an id the caller relies on is missing."""


@dataclass(frozen=True)
class Era:
    id: str
    name: str
    start: int
    end: int
    summary: str


@dataclass(frozen=True)
class Entry:
    id: str
    year: int
    title: str
    authors: tuple[str, ...]
    url: str
    era: str
    tiers: tuple[str, ...]
    concepts: tuple[str, ...]
    question: str
    builds_on: tuple[str, ...]
    title_zh: str | None = None
    venue: str | None = None      # journal, proceedings or book title (a book's publisher; a report's institution)
    kind: str | None = None       # BibTeX entry type, one of KINDS; None: exported as @misc
    volume: str | None = None
    number: str | None = None
    pages: str | None = None      # "115-133"
    doi: str | None = None        # "10.1007/BF02478259"
    publisher: str | None = None


class Catalog:
    """All papers (ordered by year, then id) and all eras (ordered by start year)."""

    def __init__(self, papers: dict[str, Entry], eras: dict[str, Era]):
        self.papers = dict(sorted(papers.items(), key=lambda kv: (kv[1].year, kv[0])))
        self.eras = dict(sorted(eras.items(), key=lambda kv: (kv[1].start, kv[0])))

    def __getitem__(self, id: str) -> Entry:
        try:
            return self.papers[id]
        except KeyError:
            raise KeyError(_unknown_id_message(id, self.nearest(id))) from None

    def __contains__(self, id: object) -> bool:
        return id in self.papers

    def __len__(self) -> int:
        return len(self.papers)

    def led_to(self, id: str) -> list[str]:
        """Ids of the papers that list `id` in their builds_on, in catalog order."""
        self[id]  # KeyError with suggestions for an unknown id
        return [e.id for e in self.papers.values() if id in e.builds_on]

    def nearest(self, id: str, n: int = 5) -> list[str]:
        """Closest known ids to a mistyped one: same-surname ids first, then difflib matches."""
        query = id.strip().lower()
        surname = re.match(r"[a-z]*", query).group(0)

        def matches_surname(k: str) -> bool:  # "lecun" or "lecun1988" -> lecun1989, lecun1998, ...
            letters = re.match(r"[a-z]*", k).group(0)
            return bool(surname) and (letters == surname or (len(surname) >= 3 and letters.startswith(surname)))

        same_surname = [k for k in self.papers if matches_surname(k)]
        same_surname.sort(key=lambda k: -difflib.SequenceMatcher(None, query, k).ratio())  # stable: ties by year
        close = difflib.get_close_matches(query, list(self.papers), n=n, cutoff=0.6)
        return list(dict.fromkeys(same_surname + close))[:n]

    def filter(self, era: str | None = None, tier: str | None = None,
               concept: str | None = None) -> list[Entry]:
        """Entries matching every given criterion; `concept` is a case-insensitive substring."""
        if era is not None and era not in self.eras:
            raise CatalogError(f"unknown era {era!r}; known eras: {', '.join(self.eras)}")
        if tier is not None and tier not in TIERS:
            raise CatalogError(f"unknown tier {tier!r}; known tiers: {', '.join(TIERS)}")
        needle = concept.lower() if concept is not None else None
        return [
            e for e in self.papers.values()
            if (era is None or e.era == era)
            and (tier is None or tier in e.tiers)
            and (needle is None or any(needle in c.lower() for c in e.concepts))
        ]

    def validate(self, implemented: Iterable[str] = ()) -> None:
        """Raise CatalogError if any implemented paper id has no catalog entry."""
        missing = [i for i in implemented if i not in self.papers]
        if missing:
            lines = [_unknown_id_message(i, self.nearest(i)) for i in missing]
            raise CatalogError("implemented papers without a catalog entry:\n  " + "\n  ".join(lines))


def _unknown_id_message(id: str, suggestions: list[str]) -> str:
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    return f"unknown paper id {id!r}{hint}"


# ---------------------------------------------------------------- loading and validation

def load_catalog(papers_path: str | Path | None = None, eras_path: str | Path | None = None) -> Catalog:
    """Load and validate the catalog; the packaged files are read once and cached."""
    if papers_path is None and eras_path is None:
        return _default_catalog()
    return _build(_read_toml(papers_path, "papers.toml"), _read_toml(eras_path, "eras.toml"),
                  str(papers_path or "papers.toml"), str(eras_path or "eras.toml"))


@functools.lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return _build(_read_toml(None, "papers.toml"), _read_toml(None, "eras.toml"), "papers.toml", "eras.toml")


def _read_toml(path: str | Path | None, default_name: str) -> dict[str, Any]:
    try:
        if path is None:
            text = files("dlcanon.catalog").joinpath(default_name).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path or default_name}: cannot read catalog file: {exc}") from exc


def _build(papers_doc: dict[str, Any], eras_doc: dict[str, Any], papers_name: str, eras_name: str) -> Catalog:
    eras = _parse_eras(eras_doc, eras_name)
    papers: dict[str, Entry] = {}
    for i, table in enumerate(_tables(papers_doc, "paper", papers_name)):
        where = _where(papers_name, "entry", table, i)
        entry = _parse_entry(table, where)
        if entry.id in papers:
            raise CatalogError(f"{where}: duplicate id")
        if entry.era not in eras:
            raise CatalogError(f"{where}: unknown era {entry.era!r} (known: {', '.join(eras)})")
        papers[entry.id] = entry
    for entry in papers.values():
        _check_builds_on(entry, papers, f"{papers_name}: entry {entry.id!r}")
    return Catalog(papers, eras)


def _tables(doc: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
    tables = doc.get(key)
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise CatalogError(f"{name}: expected one or more [[{key}]] tables")
    return tables


def _where(file_name: str, kind: str, table: dict[str, Any], index: int) -> str:
    """How an error names a table: by its id when it has a usable one, else by position."""
    if isinstance(table.get("id"), str) and table["id"].strip():
        return f"{file_name}: {kind} {table['id']!r}"
    return f"{file_name}: {kind} #{index + 1}"


def _check_fields(table: dict[str, Any], required: dict[str, type], optional: dict[str, type], where: str) -> None:
    for field in required:
        if field not in table:
            raise CatalogError(f"{where}: missing field {field!r}")
    for field, value in table.items():
        typ = required.get(field) or optional.get(field)
        if typ is None:
            raise CatalogError(f"{where}: unknown field {field!r}")
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise CatalogError(f"{where}: field {field!r} must be {typ.__name__}, got {type(value).__name__}")
        if typ is str and not value.strip():
            raise CatalogError(f"{where}: field {field!r} is empty")


def _str_list(table: dict[str, Any], field: str, where: str, allow_empty: bool = False) -> tuple[str, ...]:
    values = table[field]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise CatalogError(f"{where}: field {field!r} must be a list of non-empty strings")
    if not values and not allow_empty:
        raise CatalogError(f"{where}: field {field!r} is empty")
    if len(set(values)) != len(values):
        raise CatalogError(f"{where}: field {field!r} has duplicates")
    return tuple(values)


def _parse_entry(table: dict[str, Any], where: str) -> Entry:
    _check_fields(table, _REQUIRED, _OPTIONAL, where)
    id = table["id"]
    if not ID_PATTERN.match(id):
        raise CatalogError(f"{where}: id must look like surname+year, e.g. 'lecun1989' (pattern {ID_PATTERN.pattern})")
    if int(re.search(r"\d{4}", id).group(0)) != table["year"]:
        raise CatalogError(f"{where}: id year does not match year = {table['year']}")
    if not table["url"].startswith(("http://", "https://")):
        raise CatalogError(f"{where}: url must start with http:// or https://")
    tiers = _str_list(table, "tiers", where)
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise CatalogError(f"{where}: unknown tier {unknown[0]!r} (known: {', '.join(TIERS)})")
    concepts = _str_list(table, "concepts", where)
    if any(c != c.lower() for c in concepts):
        raise CatalogError(f"{where}: concepts must be lower case")
    _check_biblio(table, where)
    return Entry(
        id=id, year=table["year"], title=table["title"], authors=_str_list(table, "authors", where),
        url=table["url"], era=table["era"], tiers=tiers, concepts=concepts, question=table["question"],
        builds_on=_str_list(table, "builds_on", where, allow_empty=True), title_zh=table.get("title_zh"),
        **{field: table.get(field) for field in _BIBLIO},
    )


def _check_biblio(table: dict[str, Any], where: str) -> None:
    """The publication fields (types are already checked): a known kind, a venue where the kind needs one,
    a bare DOI, pages as "first-last"; none of them without a kind."""
    kind = table.get("kind")
    given = [f for f in _BIBLIO if f in table and f != "kind"]
    if kind is None:
        if given:
            raise CatalogError(f"{where}: field {given[0]!r} needs a 'kind' (one of {', '.join(KINDS)})")
        return
    if kind not in KINDS:
        raise CatalogError(f"{where}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if kind != "misc" and "venue" not in table:
        raise CatalogError(f"{where}: kind {kind!r} needs a 'venue'")
    if kind == "book" and table.get("publisher", table["venue"]) != table["venue"]:
        raise CatalogError(f"{where}: a book's venue is its publisher; 'publisher' differs from 'venue'")
    if "doi" in table and not DOI_PATTERN.fullmatch(table["doi"]):
        raise CatalogError(f"{where}: doi {table['doi']!r} must be a bare DOI like '10.1038/323533a0'")
    if "pages" in table and not PAGES_PATTERN.fullmatch(table["pages"]):
        raise CatalogError(f"{where}: pages {table['pages']!r} must look like '115-133' or '42'")


def _check_builds_on(entry: Entry, papers: dict[str, Entry], where: str) -> None:
    for dep in entry.builds_on:
        if dep == entry.id:
            raise CatalogError(f"{where}: builds_on lists the entry itself")
        if dep not in papers:
            raise CatalogError(f"{where}: builds_on {dep!r} is not in the catalog")
        if papers[dep].year > entry.year:
            raise CatalogError(f"{where}: builds_on {dep!r} ({papers[dep].year}) is later than {entry.year}")


def _parse_eras(doc: dict[str, Any], name: str) -> dict[str, Era]:
    eras: dict[str, Era] = {}
    for i, table in enumerate(_tables(doc, "era", name)):
        where = _where(name, "era", table, i)
        _check_fields(table, _ERA_FIELDS, {}, where)
        if not ERA_ID_PATTERN.match(table["id"]):
            raise CatalogError(f"{where}: id must be a lower-case slug")
        if table["id"] in eras:
            raise CatalogError(f"{where}: duplicate id")
        if table["start"] > table["end"]:
            raise CatalogError(f"{where}: start {table['start']} is after end {table['end']}")
        eras[table["id"]] = Era(**table)
    return eras
