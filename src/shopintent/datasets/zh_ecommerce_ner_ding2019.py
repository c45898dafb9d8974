"""Chinese e-commerce NER (Ding et al., ACL 2019): product types and brands, plus 7 gazetteers.

4,987 real Chinese e-commerce queries and titles (train 3,989 / dev 500 /
test 498 sentences), one character per line with a BIOES tag for HC (product
type, 产品) or HP (brand, 品牌), and the paper's seven gazetteers (brand1-4,
product1-3; 61,400 entries). It is the only public labelled set here of real
Chinese shopping text, so shopintent uses it for the zh product/brand slot
tagger and the gazetteers as its dictionary features.

Spans are character offsets, end exclusive, labelled ``product_type`` (HC)
and ``brand`` (HP). The text is the characters joined as they are, spaces
included. Tag sequences that break BIOES (an ``I``/``E`` with no open entity,
a ``B`` followed by something other than ``I``/``E`` of its type) yield no
span; they are listed in ``malformed`` and counted. The train file has one:
sentence ``train/1`` tags ``配件`` as ``B-HC B-HC`` (the second ``B`` opens ``件 ``,
closed by ``E-HC`` on the following space).

Gazetteer entries are the file's lines with surrounding whitespace removed
(a few end with a space in the source); duplicates are kept as published.

Caveats (PROVENANCE.txt): no licence is stated in the source repository (a
research release with the paper): research use only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import Span, TextQuery
from shopintent.settings import Settings

_REPO, _COMMIT = "PhantomGrapes/MultiDigraphNER", "b29aec76dc6edc4dd757ebd6d8c166df2c4b0630"

#: Canonical split -> file in the data-set folder (= its name in data/ecommerce/).
SPLIT_FILES: dict[str, str] = {
    "train": "train.txt.bieos",
    "validation": "dev.txt.bieos",
    "test": "test.txt.bieos",
}

#: Gazetteer name -> file in the data-set folder (= its path under data/ in the source).
GAZETTEER_FILES: dict[str, str] = {
    name: f"dics/{name}.dic"
    for name in ("brand1", "brand2", "brand3", "brand4", "product1", "product2", "product3")
}

#: Source entity type -> canonical span label.
ENTITY_LABELS: dict[str, str] = {"HC": "product_type", "HP": "brand"}

_FILES: tuple[tuple[str, str, str, int], ...] = (
    ("train.txt.bieos", "data/ecommerce/train.txt.bieos",
     "30be03f457769ae12905c2f53ce2ac2f7efbf191542edb5f824bc44812846e66", 751_272),
    ("dev.txt.bieos", "data/ecommerce/dev.txt.bieos",
     "f06a7aa0fc70eede6fc247adac2c4c4e803aebac81097c8089921329424c64ea", 94_337),
    ("test.txt.bieos", "data/ecommerce/test.txt.bieos",
     "1ffe340955f04e03e0591d3c53e854ef1f9ea5c494d1209d8ad7647a3ac18f4c", 93_870),
    ("dics/brand1.dic", "data/dics/brand1.dic",
     "670b81ce86488dac5055a33f6647ce7465195f79d4f2fa782bb3db437e66463d", 82_834),
    ("dics/brand2.dic", "data/dics/brand2.dic",
     "22114c627b249a8ab52952dd6319d660406a1a6f4abfcca4f3b39e0a8594c13b", 79_181),
    ("dics/brand3.dic", "data/dics/brand3.dic",
     "dc70a113f5aa518a923a73cae36f5ce887ab8d373b65a613bcd3ef473c7f9cfc", 74_974),
    ("dics/brand4.dic", "data/dics/brand4.dic",
     "a4acf75a707f9c7aa331ce2c717b1dcc3317f5528622965383fc60b8c66b0dc1", 70_864),
    ("dics/product1.dic", "data/dics/product1.dic",
     "d54bdf2ef6953d30f895fa43ddf0db122dabf5d54f7dd2d0dac868f93cf05659", 87_643),
    ("dics/product2.dic", "data/dics/product2.dic",
     "64bfc81744904325d6af5baa040333724fd5de86c48d3614cf7b3fa621a4e31f", 83_175),
    ("dics/product3.dic", "data/dics/product3.dic",
     "cc0a182aafa72db269bbfe5ed3908a47e4aad9472978c7bb5ff7049f79c6c400", 68_414),
)

SPEC = DatasetSpec(
    name="zh_ecommerce_ner_ding2019",
    task="Chinese e-commerce NER: product type (HC) and brand (HP), BIOES; plus gazetteers",
    language="zh",
    licence="none stated in the source repository (research release with the paper); "
    "research use",
    citation="Ding et al., A Neural Multi-digraph Model for Chinese NER with Gazetteers, "
    "ACL 2019",
    source=f"https://github.com/{_REPO} @ {_COMMIT} "
    "(data/ecommerce/{train,dev,test}.txt.bieos, data/dics/*.dic)",
    files=tuple(
        DataFile(path=path, sha256=sha256, size=size, url=github_raw(_REPO, _COMMIT, repo_path))
        for path, repo_path, sha256, size in _FILES
    ),
    expected_counts={
        "sentences": 4_987,
        "train": 3_989,
        "validation": 500,
        "test": 498,
        "gazetteers": 7,
        "gazetteer_entries": 61_400,
    },
    description="char<TAB>BIOES-tag per line, blank line between sentences; "
    "dics/*.dic one entry per line.",
    total_rows=4_987,
)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source sentence that could not become a record, and why."""

    where: str
    reason: str


@dataclass(frozen=True, slots=True)
class MalformedTag:
    """A tag that breaks the BIOES scheme, so its entity got no span."""

    query_id: str
    position: int
    problem: str


@dataclass
class ZhEcommerceNer:
    """The NER sentences as canonical text queries, and the gazetteers.

    ``queries`` have no intent; their ``spans`` are the entities.
    ``gazetteers`` maps a gazetteer's name (``brand1`` …) to its entries.
    """

    queries: list[TextQuery]
    gazetteers: dict[str, list[str]]
    malformed: list[MalformedTag] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Return one row per sentence: text, language, intent, split, spans, query_id."""
        return pd.DataFrame(
            {
                "text": [q.text for q in self.queries],
                "language": [q.language for q in self.queries],
                "intent": [q.intent for q in self.queries],
                "split": [q.split for q in self.queries],
                "spans": [[(s.start, s.end, s.label) for s in q.spans] for q in self.queries],
                "query_id": [q.query_id for q in self.queries],
            }
        )


def bioes_to_spans(
    chars: Sequence[str],
    tags: Sequence[str],
    labels: Mapping[str, str] = ENTITY_LABELS,
) -> tuple[list[Span], list[tuple[int, str]]]:
    """Turn per-character BIOES tags into character spans; return them and the problems.

    ``labels`` renames entity types (``HC`` -> ``product_type``). A tag that
    breaks the scheme opens or closes nothing and comes back as
    ``(position, problem)``; an entity left open by it gets no span.
    """
    if len(chars) != len(tags):
        raise ValueError(f"{len(chars)} characters but {len(tags)} tags")
    text = "".join(chars)
    offsets = [0]
    for char in chars:
        offsets.append(offsets[-1] + len(char))
    spans: list[Span] = []
    problems: list[tuple[int, str]] = []
    open_at: int | None = None
    open_type = ""

    def close_unfinished(position: int, tag: str) -> None:
        nonlocal open_at
        if open_at is not None:
            problem = f"{open_type} entity opened here is not closed ({tag} at {position})"
            problems.append((open_at, problem))
            open_at = None

    for position, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if tag == "O":
            close_unfinished(position, tag)
            continue
        if prefix not in {"B", "I", "E", "S"} or kind not in labels:
            close_unfinished(position, tag)
            problems.append((position, f"unknown tag {tag!r}"))
            continue
        if prefix in {"B", "S"}:
            close_unfinished(position, tag)
            if prefix == "S":
                spans.append(_span(text, offsets, position, position + 1, labels[kind]))
            else:
                open_at, open_type = position, kind
            continue
        if open_at is None or open_type != kind:
            close_unfinished(position, tag)
            problems.append((position, f"{tag} continues no open {kind} entity"))
            continue
        if prefix == "E":
            spans.append(_span(text, offsets, open_at, position + 1, labels[kind]))
            open_at = None
    close_unfinished(len(tags), "end of sentence")
    return spans, problems


def _span(text: str, offsets: list[int], first: int, stop: int, label: str) -> Span:
    start, end = offsets[first], offsets[stop]
    return Span(start, end, label, text[start:end])


def read_sentences(path: str, settings: Settings | None = None) -> list[tuple[int, list[str]]]:
    """Return the raw sentences of one BIOES file as ``(first line number, lines)``."""
    sentences: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first_line = 1
    with data_path(SPEC, path, settings).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line:
                if current:
                    sentences.append((first_line, current))
                current = []
                continue
            if not current:
                first_line = number
            current.append(line)
    if current:
        sentences.append((first_line, current))
    return sentences


def read_gazetteer(name: str, settings: Settings | None = None) -> tuple[list[str], list[int]]:
    """Return one gazetteer's entries (whitespace-stripped, file order) and its blank lines."""
    path = data_path(SPEC, GAZETTEER_FILES[name], settings)
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [line.strip() for line in lines if line.strip()]
    blank = [number for number, line in enumerate(lines, start=1) if not line.strip()]
    return entries, blank


def load(settings: Settings | None = None) -> ZhEcommerceNer:
    """Load the three splits as text queries with entity spans, and the seven gazetteers."""
    queries: list[TextQuery] = []
    malformed: list[MalformedTag] = []
    skipped: list[SkippedRow] = []
    for split, path in SPLIT_FILES.items():
        for index, (first_line, lines) in enumerate(read_sentences(path, settings)):
            pairs = [line.split("\t") for line in lines]
            bad = next((i for i, p in enumerate(pairs) if len(p) != 2 or len(p[0]) != 1), None)
            if bad is not None:
                skipped.append(
                    SkippedRow(
                        f"{path} line {first_line + bad}",
                        f"expected one character, a TAB and a tag, got {lines[bad]!r}",
                    )
                )
                continue
            chars = [p[0] for p in pairs]
            query_id = f"{split}/{index}"
            spans, problems = bioes_to_spans(chars, [p[1] for p in pairs])
            malformed.extend(MalformedTag(query_id, pos, problem) for pos, problem in problems)
            queries.append(
                TextQuery(
                    text="".join(chars),
                    language="zh",
                    spans=tuple(spans),
                    split=split,
                    query_id=query_id,
                )
            )
    gazetteers: dict[str, list[str]] = {}
    for name, path in GAZETTEER_FILES.items():
        gazetteers[name], blank = read_gazetteer(name, settings)
        skipped.extend(SkippedRow(f"{path} line {n}", "blank gazetteer entry") for n in blank)
    return ZhEcommerceNer(
        queries=queries, gazetteers=gazetteers, malformed=malformed, skipped=skipped
    )


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files."""
    loaded = load(settings)
    found: dict[str, int] = {
        "sentences": len(loaded.queries),
        "skipped": len(loaded.skipped),
        "malformed_tags": len(loaded.malformed),
        "gazetteers": len(loaded.gazetteers),
        "gazetteer_entries": sum(len(v) for v in loaded.gazetteers.values()),
        "gazetteer_unique_entries": len({e for v in loaded.gazetteers.values() for e in v}),
        **{f"gazetteer:{k}": len(v) for k, v in loaded.gazetteers.items()},
    }
    for split in SPLIT_FILES:
        in_split = [q for q in loaded.queries if q.split == split]
        found[split] = len(in_split)
        for label in ENTITY_LABELS.values():
            found[f"{split}:{label}"] = sum(s.label == label for q in in_split for s in q.spans)
    return found


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
