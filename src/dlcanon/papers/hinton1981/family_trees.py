"""The two isomorphic family trees of Hinton (1986) and Rumelhart, Hinton & Williams (1986), as facts.

    English                                         Italian (the same shape, position by position)
    Christopher = Penelope      Andrew = Christine  Roberto = Maria          Pierro = Francesca
          |                          |                    |                        |
    Arthur = Margaret  Victoria = James  Jennifer = Charles  Emilio = Gina  Lucia = Marco  Angela = Tomaso
    (Arthur, Victoria: children of C & P;        (Emilio, Lucia: children of R & M;
     James, Jennifer: children of A & C)           Marco, Angela: children of P & F)
                          |                                             |
                   Colin, Charlotte                               Alfonso, Sophia

Margaret, Charles, Gina and Tomaso marry into the trees. A fact is a query (person 1, relation) with the set
of every person 2 that answers it; there are 104 such queries, as in the papers.
"""

from __future__ import annotations

ENGLISH = ("Christopher", "Penelope", "Andrew", "Christine", "Arthur", "Margaret", "Victoria", "James",
           "Jennifer", "Charles", "Colin", "Charlotte")
ITALIAN = ("Roberto", "Maria", "Pierro", "Francesca", "Emilio", "Gina", "Lucia", "Marco", "Angela", "Tomaso",
           "Alfonso", "Sophia")
PEOPLE = ENGLISH + ITALIAN  # isomorphic people share a position: ENGLISH[i] <-> ITALIAN[i]
RELATIONS = ("father", "mother", "husband", "wife", "son", "daughter", "uncle", "aunt", "brother", "sister",
             "nephew", "niece")
MALE = {"Christopher", "Andrew", "Arthur", "James", "Charles", "Colin",
        "Roberto", "Pierro", "Emilio", "Marco", "Tomaso", "Alfonso"}
GENERATION = {p: g for names in (ENGLISH, ITALIAN) for p, g in zip(names, (1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3),
                                                                      strict=True)}

# (husband, wife, children) in the English tree; the Italian one is its image under ENGLISH[i] -> ITALIAN[i]
COUPLES = (("Christopher", "Penelope", ("Arthur", "Victoria")), ("Andrew", "Christine", ("James", "Jennifer")),
           ("Arthur", "Margaret", ()), ("James", "Victoria", ("Colin", "Charlotte")), ("Charles", "Jennifer", ()))


def to_italian(name: str) -> str:
    return ITALIAN[ENGLISH.index(name)]


def couples() -> list[tuple[str, str, tuple[str, ...]]]:
    italian = [(to_italian(h), to_italian(w), tuple(to_italian(c) for c in kids)) for h, w, kids in COUPLES]
    return list(COUPLES) + italian


def relations_of(p: str, spouse: dict, parents: dict) -> dict[str, set[str]]:
    """Every relation of person p: the 12 kinship terms of the papers, from marriages and parenthood."""
    def kids(q):
        return {c for c, ps in parents.items() if q in ps}

    def siblings(q):
        return {s for s in parents if s != q and q in parents and parents[s] == parents[q]}

    male = {q for q in spouse.keys() | parents.keys() if q in MALE}
    father, mother = parents.get(p, (None, None))
    # uncles and aunts: the parents' siblings and those siblings' spouses
    piblings = {x for q in parents.get(p, ()) for s in siblings(q) for x in (s, spouse.get(s)) if x}
    # nephews and nieces: children of one's siblings and of one's spouse's siblings
    in_law = siblings(spouse[p]) if p in spouse else set()
    nibling = {k for s in siblings(p) | in_law for k in kids(s)}
    rel = {"father": {father} - {None}, "mother": {mother} - {None},
           "husband": {spouse[p]} if p in spouse and p not in MALE else set(),
           "wife": {spouse[p]} if p in spouse and p in MALE else set(),
           "son": kids(p) & male, "daughter": kids(p) - male,
           "uncle": piblings & male, "aunt": piblings - male,
           "brother": siblings(p) & male, "sister": siblings(p) - male,
           "nephew": nibling & male, "niece": nibling - male}
    return rel


def facts() -> list[tuple[str, str, frozenset[str]]]:
    """[(person 1, relation, answers)] for every (person 1, relation) with at least one answer, sorted."""
    spouse, parents = {}, {}
    for h, w, kids in couples():
        spouse[h], spouse[w] = w, h
        for k in kids:
            parents[k] = (h, w)
    out = []
    for p in PEOPLE:
        for r, answers in relations_of(p, spouse, parents).items():
            if answers:
                out.append((p, r, frozenset(answers)))
    return sorted(out, key=lambda f: (PEOPLE.index(f[0]), RELATIONS.index(f[1])))


def triples() -> list[tuple[str, str, str]]:
    """One (person 1, relation, person 2) per answer: the propositions a semantic network stores."""
    return [(p, r, a) for p, r, answers in facts() for a in sorted(answers, key=PEOPLE.index)]
