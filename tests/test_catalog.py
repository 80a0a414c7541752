"""The catalog: it loads, refuses bad data, and matches the four seed guides it was built from.

The seed-based tests parse ../shared/seeds/ (beside the repository) and compare counts and links with the
catalog, so dropping or mislabelling an entry fails here. Without the seeds they skip, except in CI.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import textwrap
from pathlib import Path

import pytest

from dlcanon.catalog import KINDS, TIERS, CatalogError, load_catalog
from dlcanon.catalog.export import bibtex

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"

# Ids other code already relies on, with their year and a phrase of the right title.
FIXED_IDS = {
    "mcculloch1943": (1943, "Logical Calculus"),
    "rosenblatt1958": (1958, "The Perceptron"),
    "lettvin1959": (1959, "Frog's Eye"),
    "hubel1959": (1959, "Receptive Fields of Single Neurones"),
    "minsky1969": (1969, "Perceptrons: An Introduction"),
    "kohonen1972": (1972, "Correlation Matrix Memories"),
    "hinton1981": (1981, "Semantic Networks in Parallel Hardware"),
    "rumelhart1986": (1986, "Back-Propagating Errors"),
    "solla1988": (1988, "Accelerated Learning"),
    "lecun1989": (1989, "Handwritten Digit Recognition"),
    "cybenko1989": (1989, "Superpositions of a Sigmoidal Function"),
    "elman1990": (1990, "Finding Structure in Time"),
    "bottou1990": (1990, "Cooperation of Learning Algorithms"),
    "bottou1991": (1991, "Stochastic Gradient Learning"),
    "krogh1991": (1991, "Weight Decay"),
}

# 003 names three milestones in its prose rather than in a "related papers" list: id -> text that names it.
PROSE_MILESTONES = {
    "hinton2006a": "A Fast Learning Algorithm for Deep Belief Nets",
    "brown2020": "GPT-3",
    "chen2020": "SimCLR",
}
# 003 lists the GAN paper under a title that is not the paper's own ("Generative Adversarial Nets").
SEED_TITLE_ALIASES = {"generativeadversarialnetworks": "goodfellow2014"}


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def seed_text(prefix: str) -> str:
    found = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.is_dir() else []
    if not found:
        msg = f"seed {prefix}_*.txt not found in {SEEDS}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg + " (the seeds live beside the repository, in ../shared/seeds)")
    return found[0].read_text(encoding="utf-8")


def norm_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.replace("’", "'").casefold())


def arxiv_id(url: str) -> str | None:
    m = re.search(r"(\d{4}\.\d{4,5})", url) if ("arxiv" in url or "128.84.21.199" in url) else None
    return m.group(1) if m else None


# ---------------------------------------------------------------- seed parsers

def parse_000(text: str) -> list[tuple[int, str, str]]:
    """(year, English title, link) for every row of 000's main table."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\| (\d{4}) \| \[(.*?)\]\((\S+?)\) \|", line)
        if m:
            title = re.search(r"\*((?:\\\*|[^*])+)\*", m.group(2)).group(1).replace("\\*", "")
            rows.append((int(m.group(1)), title.strip(), m.group(3)))
    n_rows = sum(1 for line in text.splitlines() if re.match(r"^\| \d{4} \|", line))
    assert rows and len(rows) == n_rows, "000: some table rows could not be parsed"
    return rows


def parse_001(text: str) -> list[tuple[str, int, int, list[tuple[int, str]]]]:
    """(heading, start, end, [(year, title), ...]) for every era heading of 001."""
    eras: list[tuple[str, int, int, list[tuple[int, str]]]] = []
    for line in text.splitlines():
        head = re.match(r"^(.+?) \((\d{4})–(\d{4})\)$", line)
        paper = re.match(r"^(\d{4}) · (.+)$", line)
        if head:
            eras.append((head.group(1), int(head.group(2)), int(head.group(3)), []))
        elif paper:
            eras[-1][3].append((int(paper.group(1)), paper.group(2)))
    return eras


def parse_003(text: str) -> list[tuple[str, str]]:
    """(title, link) for every paper under a "相关论文" (related papers) heading of 003."""
    items = []
    for block in re.findall(r"\*\*相关论文：\*\*(.*?)\*\*具体实现：\*\*", text, flags=re.S):
        for line in block.splitlines():
            m = re.match(r"^\*\s+(.+?)\s*[，,]\s*(https?://\S+)\s*$", line)
            if m:
                items.append((re.sub(r"\s*\(\d{4}\)\s*$", "", m.group(1)).strip(), m.group(2)))
            else:
                assert not line.strip().startswith("*"), f"003: unparsed related-paper line {line!r}"
    return items


def parse_004(text: str) -> tuple[list[str], list[str]]:
    """Chinese titles of 004's top-100 list proper and of its "beyond the top 100" sections."""
    segments = re.split(r"(?m)^---\s*$", text)
    assert len(segments) >= 3, "004: expected the list between two '---' rules"
    toc, main, extra = segments[0], segments[1], "".join(segments[2:])
    # The table of contents names the list's sections before the "(超越前100篇)" (beyond top 100) marker.
    toc_sections = re.findall(r"(?m)^\* \[", toc.split("## 目录")[-1].split("*(超越前100篇)*")[0])
    assert len(re.findall(r"(?m)^### ", main)) == len(toc_sections), "004: main list sections do not match its TOC"

    def titles(segment: str) -> list[str]:
        out = []
        for line in segment.splitlines():
            if line.startswith("- "):
                m = re.match(r"^- (?:\*\*(.+?)\*\*|《(.+?)》)", line)
                assert m, f"004: unparsed list line {line!r}"
                out.append(m.group(1) or m.group(2))
        return out

    return titles(main), titles(extra)


# ---------------------------------------------------------------- the catalog itself

def test_loads_and_validates(cat):
    assert len(cat) == len(cat.papers) > 100
    assert list(cat.eras)[0] == "origins"
    assert all(e.tiers and set(e.tiers) <= set(TIERS) for e in cat.papers.values())
    assert all(e.era in cat.eras for e in cat.papers.values())
    cat.validate(implemented=["lecun1989", "rumelhart1986"])
    with pytest.raises(CatalogError, match="lecun1998"):
        cat.validate(implemented=["lecun1988"])  # the message suggests near ids


def test_ids_unique_well_formed_and_ordered(cat):
    papers = Path(__file__).resolve().parents[1] / "src" / "dlcanon" / "catalog" / "papers.toml"
    ids = re.findall(r'(?m)^id = "(.+)"$', papers.read_text(encoding="utf-8"))
    assert len(ids) == len(set(ids)) == len(cat.papers)
    assert ids == list(cat.papers), "papers.toml must be ordered by year, then id"
    for e in cat.papers.values():
        assert re.fullmatch(r"[a-z]+\d{4}[a-z]?", e.id)
        assert e.id[-5:-1] == str(e.year) or e.id[-4:] == str(e.year)


def test_builds_on_resolves_to_earlier_papers(cat):
    for e in cat.papers.values():
        assert len(e.builds_on) <= 4, e.id
        for dep in e.builds_on:
            assert dep in cat, f"{e.id}: {dep}"
            assert cat[dep].year <= e.year, f"{e.id} builds on later {dep}"
    assert "lecun1989" in cat.led_to("rumelhart1986")


def test_entry_fields_are_tidy(cat):
    urls = [e.url for e in cat.papers.values()]
    assert len(urls) == len(set(urls)), "two entries share a url"
    for e in cat.papers.values():
        assert 2 <= len(e.concepts) <= 6 and all(c == c.lower().strip() for c in e.concepts), e.id
        assert e.question.endswith("?") and e.question.count("?") == 1, e.id
        assert not re.search(r"[.!] [A-Z]", e.question), f"{e.id}: question must be one sentence"
        assert e.authors and all(a.strip() for a in e.authors), e.id


def test_fixed_ids_name_the_right_papers(cat):
    for pid, (year, phrase) in FIXED_IDS.items():
        assert pid in cat, pid
        assert cat[pid].year == year, pid
        assert phrase.lower() in cat[pid].title.replace("’", "'").lower(), (pid, cat[pid].title)
        assert "canon" in cat[pid].tiers


def test_filter_and_nearest(cat):
    assert {e.id for e in cat.filter(tier="canon", era="origins")} == {
        "mcculloch1943", "rosenblatt1958", "lettvin1959", "hubel1959", "minsky1969"}
    assert "vaswani2017" in {e.id for e in cat.filter(concept="ATTENTION")}
    assert all(e.era == "modern" and "top100" in e.tiers for e in cat.filter(era="modern", tier="top100"))
    with pytest.raises(CatalogError):
        cat.filter(era="jurassic")
    assert cat.nearest("lecun")[:2] == ["lecun1989", "lecun1998"]
    assert "vaswani2017" in cat.nearest("vaswani2016")
    with pytest.raises(KeyError, match="did you mean"):
        cat["rumelhart1968"]
    assert "nosuch2000" not in cat


def test_default_catalog_is_cached():
    assert load_catalog() is load_catalog()


# ---------------------------------------------------------------- bad data is refused

GOOD = """
[[paper]]
id = "alpha1950"
year = 1950
title = "A"
authors = ["A. Author"]
url = "https://example.org/a"
era = "origins"
tiers = ["canon"]
concepts = ["x", "y"]
question = "Why?"
builds_on = []

[[paper]]
id = "beta1960"
year = 1960
title = "B"
authors = ["B. Author"]
url = "https://example.org/b"
era = "origins"
tiers = ["also"]
concepts = ["x", "y"]
question = "How?"
builds_on = ["alpha1950"]
"""


@pytest.mark.parametrize("edit, culprit, words", [
    (lambda t: t.replace('id = "beta1960"', 'id = "alpha1950"').replace("1960", "1950"), "alpha1950", "duplicate"),
    (lambda t: t.replace('era = "origins"\ntiers = ["also"]', 'era = "jurassic"\ntiers = ["also"]'), "beta1960", "era"),
    (lambda t: t.replace('builds_on = ["alpha1950"]', 'builds_on = ["gamma1940"]'), "beta1960", "gamma1940"),
    (lambda t: t.replace('builds_on = []', 'builds_on = ["beta1960"]'), "alpha1950", "later"),
    (lambda t: t.replace('tiers = ["also"]', 'tiers = ["famous"]'), "beta1960", "tier"),
    (lambda t: t.replace('id = "beta1960"', 'id = "Beta-1960"'), "Beta-1960", "id"),
    (lambda t: t.replace('year = 1960', 'year = "1960"'), "beta1960", "year"),
    (lambda t: t.replace('title = "B"\n', ''), "beta1960", "title"),
    (lambda t: t.replace('question = "How?"', 'question = "How?"\nbuilds-on = []'), "beta1960", "builds-on"),
    # publication fields
    (lambda t: with_pub(t, 'kind = "journal"\nvenue = "J"'), "beta1960", "unknown kind 'journal'"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = "J"\ndoi = "https://doi.org/10.1038/323533a0"'),
     "beta1960", "doi"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = "J"\ndoi = "10.1038"'), "beta1960", "doi"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = "J"\ndoi = "doi:10.1038/323533a0"'), "beta1960", "doi"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = "J"\npages = "533–536"'), "beta1960", "pages"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = "J"\nvolume = 323'), "beta1960", "'volume' must be str"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = "J"\njournal = "Nature"'), "beta1960", "unknown field 'journal'"),
    (lambda t: with_pub(t, 'kind = "article"\nvenue = " "'), "beta1960", "'venue' is empty"),
    (lambda t: with_pub(t, 'kind = "article"'), "beta1960", "needs a 'venue'"),
    (lambda t: with_pub(t, 'venue = "J"'), "beta1960", "needs a 'kind'"),
    (lambda t: with_pub(t, 'doi = "10.1038/323533a0"'), "beta1960", "needs a 'kind'"),
    (lambda t: with_pub(t, 'kind = "book"\nvenue = "MIT Press"\npublisher = "Springer"'), "beta1960", "publisher"),
])
def test_bad_data_is_refused(tmp_path, edit, culprit, words):
    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    assert list(load_catalog(papers_path=good).papers) == ["alpha1950", "beta1960"]
    bad = tmp_path / "bad.toml"
    bad.write_text(edit(GOOD), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(papers_path=bad)
    assert culprit in str(err.value) and words in str(err.value), str(err.value)


def with_pub(text: str, fields: str) -> str:
    """GOOD with publication fields added to its second entry (beta1960)."""
    return text.replace('question = "How?"', 'question = "How?"\n' + fields)


def test_publication_fields_load(tmp_path):
    path = tmp_path / "pub.toml"
    path.write_text(with_pub(GOOD, 'kind = "article"\nvenue = "Nature"\nvolume = "323"\nnumber = "6088"\n'
                                   'pages = "533-536"\ndoi = "10.1038/323533a0"'), encoding="utf-8")
    cat = load_catalog(papers_path=path)
    e = cat["beta1960"]
    assert (e.kind, e.venue, e.volume, e.number, e.pages, e.doi, e.publisher) == (
        "article", "Nature", "323", "6088", "533-536", "10.1038/323533a0", None)
    assert cat["alpha1950"].kind is cat["alpha1950"].venue is None


def test_bad_eras_are_refused(tmp_path):
    eras = tmp_path / "eras.toml"
    eras.write_text(textwrap.dedent("""
        [[era]]
        id = "origins"
        name = "Origins"
        start = 1969
        end = 1943
        summary = "Backwards."
    """), encoding="utf-8")
    with pytest.raises(CatalogError, match="origins"):
        load_catalog(eras_path=eras)


# ---------------------------------------------------------------- where each paper appeared, and BibTeX

VENUE_FIELD = {"article": "journal", "inproceedings": "booktitle", "incollection": "booktitle", "book": "publisher",
               "techreport": "institution", "phdthesis": "school", "misc": "howpublished"}
BIB_ENTRY = re.compile(r"@(\w+)\{([^,\s{}]+),")
BIB_FIELD = re.compile(r"\s*(\w+) = \{")


def _close(text: str, start: int, what: str) -> int:
    """Index just past the brace that closes the one opened before `start`, counting braces as BibTeX does:
    every brace, escaped or not."""
    depth, i = 1, start
    while depth:
        assert i < len(text), f"{what}: unbalanced braces"
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return i


def parse_bibtex(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """(type, key, fields) for every entry, failing on unbalanced braces, stray text or a repeated field."""
    entries, pos = [], 0
    while text[pos:].strip():
        m = BIB_ENTRY.match(text, pos + len(text[pos:]) - len(text[pos:].lstrip()))
        assert m, f"not an entry: {text[pos:pos + 60]!r}"
        end = _close(text, m.end(), m.group(2))
        body, fields, i = text[m.end():end - 1], {}, 0
        while body[i:].strip():
            f = BIB_FIELD.match(body, i)
            assert f, f"{m.group(2)}: unparsed field text {body[i:i + 60]!r}"
            i = _close(body, f.end(), f"{m.group(2)}.{f.group(1)}")
            assert f.group(1) not in fields, f"{m.group(2)}: field {f.group(1)} twice"
            fields[f.group(1)] = body[f.end():i - 1]
            i += 1 if body[i:i + 1] == "," else 0
        entries.append((m.group(1), m.group(2), fields))
        pos = end
    return entries


def test_canon_entries_say_where_they_appeared(cat):
    canon = cat.filter(tier="canon")
    assert len(canon) == 49
    assert not [e.id for e in canon if not e.kind], "canon entries without a kind"
    assert not [e.id for e in canon if not e.venue], "canon entries without a venue"
    papers = cat.papers.values()
    assert all(e.kind in KINDS for e in papers if e.kind)
    dois = [e.doi for e in papers if e.doi]
    assert len(dois) == len(set(dois)), "two entries share a doi"
    for e in papers:
        assert e.doi is None or re.fullmatch(r"10\.\d{4,9}/\S+", e.doi), e.id
        assert e.pages is None or re.fullmatch(r"\w+(-\w+)?", e.pages), e.id
        if e.venue and "arXiv" in e.venue:                    # preprints name their eprint
            assert re.fullmatch(r"arXiv preprint arXiv:\d{4}\.\d{4,5}", e.venue), e.id
            assert arxiv_id(e.url) in (None, e.venue.rsplit(":", 1)[1]), f"{e.id}: venue and url name two eprints"


def test_bibtex_of_known_entries(cat):
    ids = ["mcculloch1943", "rumelhart1986", "minsky1969", "lecun1989", "krizhevsky2012", "mnih2013"]
    got = {key: (typ, fields) for typ, key, fields in parse_bibtex(bibtex([cat[i] for i in ids]))}
    assert list(got) == ids

    typ, f = got["mcculloch1943"]
    assert typ == "article" and f["journal"] == "Bulletin of Mathematical Biophysics"
    assert (f["volume"], f["number"], f["pages"], f["year"]) == ("5", "4", "115--133", "1943")
    assert f["doi"] == "10.1007/BF02478259" and f["author"] == "Warren S. McCulloch and Walter Pitts"
    assert f["title"] == "{A Logical Calculus of the Ideas Immanent in Nervous Activity}"
    assert f["url"] == cat["mcculloch1943"].url and not {"booktitle", "howpublished"} & set(f)

    typ, f = got["rumelhart1986"]
    assert (typ, f["journal"], f["volume"], f["pages"], f["doi"]) == (
        "article", "Nature", "323", "533--536", "10.1038/323533a0")

    typ, f = got["minsky1969"]
    assert typ == "book" and f["publisher"] == "MIT Press" and "journal" not in f

    typ, f = got["lecun1989"]
    assert typ == "inproceedings"
    assert f["booktitle"] == "Advances in Neural Information Processing Systems 2 (NIPS 1989)"
    assert f["pages"] == "396--404" and f["year"] == "1989" and "journal" not in f
    assert f["author"].startswith("Yann LeCun and B. Boser and ")

    typ, f = got["krizhevsky2012"]
    assert typ == "inproceedings"
    assert f["booktitle"] == "Advances in Neural Information Processing Systems 25 (NIPS 2012)"
    assert f["pages"] == "1097--1105" and "journal" not in f

    typ, f = got["mnih2013"]
    assert typ == "misc" and f["howpublished"] == "arXiv preprint arXiv:1312.5602"
    assert (f["eprint"], f["archiveprefix"]) == ("1312.5602", "arXiv")


@pytest.mark.parametrize("kind", KINDS)
def test_bibtex_venue_field_follows_kind(cat, kind):
    e = dataclasses.replace(cat["mcculloch1943"], kind=kind, venue="Proc. A & B_1 {x} 100%")
    [(typ, key, f)] = parse_bibtex(bibtex([e]))
    assert (typ, key) == (kind, "mcculloch1943")
    assert f[VENUE_FIELD[kind]] == r"Proc. A \& B\_1 \textbraceleft{}x\textbraceright{} 100\%"
    assert not (set(VENUE_FIELD.values()) - {VENUE_FIELD[kind]}) & set(f), "a second venue field"


def test_bibtex_without_kind_is_misc_with_its_link(cat):
    e = dataclasses.replace(cat["mcculloch1943"], kind=None, venue=None, volume=None, number=None, pages=None,
                            doi=None, title="Braces { and a back\\slash", url="https://example.org/a%20b_{c}")
    [(typ, key, f)] = parse_bibtex(bibtex([e, e]))           # an id given twice is written once
    assert (typ, key) == ("misc", "mcculloch1943")
    assert f["howpublished"] == r"\url{https://example.org/a\%20b_\%7Bc\%7D}"
    assert f["title"] == r"{Braces \textbraceleft{} and a back\textbackslash{}slash}"
    assert not {"journal", "booktitle", "volume", "pages", "doi"} & set(f)


def test_whole_catalog_bibtex_parses(cat):
    entries = parse_bibtex(bibtex(list(cat.papers.values())))
    keys = [key for _, key, _ in entries]
    assert len(keys) == len(set(keys)) == len(cat) and keys == list(cat.papers)
    for typ, key, f in entries:
        e = cat[key]
        assert typ == (e.kind or "misc") and typ in KINDS, key
        assert {"author", "title", "year", "url"} <= set(f), key
        assert VENUE_FIELD[typ] in f, f"{key}: no {VENUE_FIELD[typ]}"
        assert "pages" not in f or re.fullmatch(r"\w+(--\w+)?", f["pages"]), key
        assert f.get("doi") == e.doi, key


def test_cli_bib_prints_the_canon(capsys):
    from dlcanon.cli import main

    assert main(["bib", "--tier", "canon"]) == 0
    entries = parse_bibtex(capsys.readouterr().out)
    assert len(entries) == 49 and {typ for typ, _, _ in entries} >= {"article", "inproceedings", "book"}


# ---------------------------------------------------------------- against the seeds

def test_canon_matches_000_main_table(cat):
    rows = parse_000(seed_text("000"))
    canon = [e for e in cat.papers.values() if "canon" in e.tiers]
    assert len(canon) == len(rows)
    urls = {e.url for e in canon}
    for _, _, link in rows:
        assert link in urls, f"000 link {link} is no canon entry's url"
    matched = set()
    for year, title, _ in rows:
        best = max(canon, key=lambda e: difflib.SequenceMatcher(None, norm_title(title), norm_title(e.title)).ratio())
        ratio = difflib.SequenceMatcher(None, norm_title(title), norm_title(best.title)).ratio()
        assert ratio > 0.85, f"000 row {year} {title!r} has no canon entry"
        assert best.year == year, f"{best.id}: year {best.year}, 000 says {year}"
        matched.add(best.id)
    assert len(matched) == len(rows), "two 000 rows matched the same entry"


def test_eras_match_001_headings(cat):
    headings = parse_001(seed_text("001"))
    assert [(e.name, e.start, e.end) for e in cat.eras.values()] == [(h, s, t) for h, s, t, _ in headings]
    by_name = {e.name: e.id for e in cat.eras.values()}
    canon = [e for e in cat.papers.values() if "canon" in e.tiers]
    for heading, _, _, papers in headings:
        for year, title in papers:
            entry = next(e for e in canon if e.year == year and (  # 001 shortens one title
                norm_title(e.title).startswith(norm_title(title))
                or difflib.SequenceMatcher(None, norm_title(title), norm_title(e.title)).ratio() > 0.85))
            assert entry.era == by_name[heading], f"{entry.id} sits under {heading!r} in 001"
    assert sum(len(p) for *_, p in headings) == len(canon)


def test_other_papers_sit_in_the_era_of_their_year(cat):
    eras = list(cat.eras.values())
    for e in cat.papers.values():
        containing = [x.id for x in eras if x.start <= e.year <= x.end]
        if containing:
            assert e.era == containing[0], f"{e.id} ({e.year}) should be in {containing[0]}"
        else:  # a year between two headings: one of the two neighbouring eras
            before = [x.id for x in eras if x.end < e.year][-1:]
            after = [x.id for x in eras if x.start > e.year][:1]
            assert e.era in before + after, f"{e.id} ({e.year}) is far from era {e.era}"


def test_milestones_match_003(cat):
    text = seed_text("003")
    listed = parse_003(text)
    milestones = [e for e in cat.papers.values() if "milestone" in e.tiers]
    found = set()
    for title, link in listed:
        hits = [e for e in milestones if norm_title(e.title) == norm_title(title)
                or (arxiv_id(link) and arxiv_id(link) == arxiv_id(e.url))
                or SEED_TITLE_ALIASES.get(norm_title(title)) == e.id]
        assert len(hits) == 1, f"003 milestone {title!r} ({link}) -> {[e.id for e in hits]}"
        found.add(hits[0].id)
    for pid, phrase in PROSE_MILESTONES.items():
        assert phrase in text, f"003 no longer names {phrase!r}"
        assert "milestone" in cat[pid].tiers
    assert len(found) == len(listed)
    assert {e.id for e in milestones} == found | set(PROSE_MILESTONES)


def test_top100_matches_004(cat):
    main, extra = parse_004(seed_text("004"))
    top100 = [e for e in cat.papers.values() if "top100" in e.tiers]
    assert len(top100) == len(main)
    assert sorted(e.title_zh or "" for e in top100) == sorted(main), "top100 entries differ from 004's list"
    zh = {e.title_zh for e in cat.papers.values() if e.title_zh}
    missing = [t for t in extra if t not in zh]
    assert not missing, f"004 papers beyond the top 100 missing from the catalog: {missing}"
    assert zh == set(main) | set(extra), "a title_zh that is not in 004"


def seed_questions() -> list[str]:
    """The opening question of every entry in 000 (table notes) and 001 (prose)."""
    questions = []
    for line in seed_text("000").splitlines():
        if re.match(r"^\| \d{4} \|", line):
            note = line.split(") | ", 1)[-1]
            m = re.match(r"^\s*([^?]{5,200}\?)", note)
            if m:
                questions.append(m.group(1))
    questions += re.findall(r"(?m)^([A-Z][^?\n]{5,200}\?)", seed_text("001"))
    return questions


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.replace("’", "'").replace("'", "").lower())


def shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    """Every run of n consecutive words in the text."""
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def test_our_sentences_are_our_own(cat):
    seed_runs = set().union(*(shingles(seed_text(prefix)) for prefix in ("000", "001", "003", "004")))
    ours = [(e.id, e.question) for e in cat.papers.values()] + [(x.id, x.summary) for x in cat.eras.values()]
    for who, sentence in ours:
        copied = sorted(" ".join(s) for s in shingles(sentence) & seed_runs)
        assert not copied, f"{who}: shares an 8-word run with the seeds: {copied[0]!r}"
    questions = seed_questions()
    assert len(questions) > 49
    for who, sentence in ours:
        for q in questions:
            ratio = difflib.SequenceMatcher(None, sentence.lower(), q.lower()).ratio()
            assert ratio < 0.6, f"{who}: {sentence!r} paraphrases the seed question {q!r}"
