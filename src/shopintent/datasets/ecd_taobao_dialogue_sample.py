"""E-commerce Dialogue Corpus (ECD, Zhang et al. 2018): the authors' published sample, in Chinese.

Real Taobao customer-service chats (shopper <-> shop staff) laid out for
multi-turn response selection: each line is ``label \\t utt_1 \\t … \\t utt_n
\\t response``, label ``1`` when ``response`` is the true next turn, ``0`` for a
real reply taken from another chat. ``test`` holds 100 contexts x 10 candidates
(1,000 lines, the first of every block of ten is the positive); ``train`` has
77 contexts x (1 positive + 1 negative) and ``valid`` is byte-identical to it.
shopintent uses the customers' turns as real, human-written Chinese shopper
messages (the real-text intent test set, ``shopintent.text.evalsets``) and the
layout itself for a response-ranking demo.

Reading the files (findings, not source facts):

- No speaker tags are published. Every context has an odd number of turns and
  the staff side (``亲``, ``客官``, ``您``) sits at the odd 0-based positions
  (198 of 210 such turns in ``test``), so turns alternate customer first and the
  response is a staff turn: :meth:`Context.customer_turns` are the even positions.
- Text is the authors' word segmentation (tokens joined by single spaces);
  :func:`unsegment` removes the spaces a Chinese writer would not type and keeps
  those between two Latin/digit tokens (``iphone 6``).
- Line numbers are 1-based over the file as published, so a turn is addressed
  exactly by ``(split, line, turn)``; ``test`` has no newline after its last line.

Caveats (PROVENANCE.txt): no licence is stated (the README asks to cite the
paper): research use, do not redistribute. 100 test contexts are a smoke test,
not a benchmark (R10@1 standard error about 5 points).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.settings import Settings

_REPO, _COMMIT = "cooelf/DeepUtteranceAggregation", "f2e15d6600ccda0db32eee98b2ca67c322071964"

#: File name (= split name in the source) -> canonical split.
SPLITS: dict[str, str] = {"test": "test", "train": "train", "valid": "validation"}

_PUBLISHED: dict[str, tuple[str, int]] = {
    "test": ("3fd9f60cda25732a19deba1bd376495713ab042849e03bc904b241ca414bebc4", 284_753),
    "train": ("f6612035923432e2d9f8b43e0d19e503c212fe9728c61d5ab16e61a5de90d70e", 68_199),
    "valid": ("f6612035923432e2d9f8b43e0d19e503c212fe9728c61d5ab16e61a5de90d70e", 68_199),
}

SPEC = DatasetSpec(
    name="ecd_taobao_dialogue_sample",
    task="multi-turn response selection over real Taobao customer-service chats "
    "(customer turns: real Chinese shopper messages)",
    language="zh",
    licence="none stated (no LICENSE; the README asks to cite the paper): research use, "
    "do not redistribute",
    citation="Zhang, Li, Zhu, Zhao & Liu, Modeling Multi-turn Conversation with Deep "
    "Utterance Aggregation, COLING 2018, pp. 3740-3752 (arXiv 1806.09102)",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (ECD_sample/test, train, valid)",
    files=tuple(
        DataFile(
            path=name,
            sha256=_PUBLISHED[name][0],
            size=_PUBLISHED[name][1],
            url=github_raw(_REPO, _COMMIT, f"ECD_sample/{name}"),
        )
        for name in SPLITS
    ),
    expected_counts={
        "rows": 1_308,
        "test.lines": 1_000,
        "test.positive": 100,
        "test.negative": 900,
        "test.contexts": 100,
        "test.blocks_of_ten_consistent": 100,
        "test.max_context_turns": 29,
        "test.context_turns": 5_640,  # mean 5.64 per line
        "train.lines": 154,
        "train.positive": 77,
        "train.negative": 77,
        "train.max_context_turns": 35,
        "valid.lines": 154,
        "valid.positive": 77,
        "valid.negative": 77,
    },
    description="UTF-8, one pair per line: label \\t utt_1 \\t … \\t utt_n \\t response "
    "(word-segmented, no speaker tags); test in blocks of 10 (1 positive + 9 negatives).",
    total_rows=1_308,
)

_LATIN = re.compile(r"[0-9A-Za-z]")


@dataclass(frozen=True, slots=True)
class Pair:
    """One published line: a context, a candidate response and whether it is the true one.

    ``line`` is the 1-based line number in ``source_file``; ``context`` holds the
    turns exactly as published (segmented).
    """

    split: str
    source_file: str
    line: int
    label: int
    context: tuple[str, ...]
    response: str

    def customer_turns(self) -> list[tuple[int, str]]:
        """``(turn index, text)`` of the customer's turns: the even positions of the context."""
        return [(index, text) for index, text in enumerate(self.context) if index % 2 == 0]


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A source line that could not become a pair, and why."""

    where: str
    reason: str


@dataclass
class EcdSample:
    """Every pair of the three files, in file order (``test``, ``train``, ``valid``)."""

    pairs: list[Pair]
    skipped: list[SkippedLine] = field(default_factory=list)

    def positives(self, split: str) -> list[Pair]:
        """The true-response lines of one split: one per distinct context."""
        return [p for p in self.pairs if p.split == split and p.label == 1]

    def pair_at(self, source_file: str, line: int) -> Pair:
        """The pair published on ``line`` (1-based) of ``source_file``."""
        for pair in self.pairs:
            if pair.source_file == source_file and pair.line == line:
                return pair
        raise KeyError(f"{SPEC.name}: {source_file} has no pair on line {line}")

    def customer_frame(self) -> pd.DataFrame:
        """One row per customer turn of every positive line: where it is and its text."""
        rows = [
            (p.split, p.source_file, p.line, turn, text, unsegment(text))
            for p in self.pairs
            if p.label == 1
            for turn, text in p.customer_turns()
        ]
        return pd.DataFrame(
            rows, columns=["split", "source_file", "line", "turn", "text", "text_joined"]
        )


def unsegment(text: str) -> str:
    """Undo the word segmentation: drop a space unless both neighbours are Latin letters or digits."""
    tokens = text.split()
    if not tokens:
        return ""
    out = [tokens[0]]
    for token in tokens[1:]:
        if _LATIN.match(out[-1][-1]) and _LATIN.match(token[0]):
            out.append(" ")
        out.append(token)
    return "".join(out)


def parse_line(line: str, where: str) -> tuple[int, tuple[str, ...], str]:
    """Split one published line into label, context turns and response.

    Raises ``ValueError`` naming the line when it has no label, no context or no response.
    """
    fields = line.rstrip("\r").split("\t")
    if len(fields) < 3:
        raise ValueError(f"{where}: expected label, at least one context turn and a response, "
                         f"got {len(fields)} tab-separated fields")
    if fields[0] not in ("0", "1"):
        raise ValueError(f"{where}: label {fields[0]!r} is not 0 or 1")
    return int(fields[0]), tuple(fields[1:-1]), fields[-1]


def read_split(
    source_file: str, settings: Settings | None = None
) -> tuple[list[Pair], list[SkippedLine]]:
    """Read one file's pairs (1-based line numbers) and the lines that could not be parsed."""
    if source_file not in SPLITS:
        raise KeyError(f"{SPEC.name} has no file {source_file!r}; it holds {tuple(SPLITS)}")
    pairs: list[Pair] = []
    skipped: list[SkippedLine] = []
    text = data_path(SPEC, source_file, settings).read_text(encoding="utf-8")
    # split on "\n" only: str.splitlines would also break inside a turn at U+2028 and friends
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        where = f"{source_file} line {number}"
        try:
            label, context, response = parse_line(line, where)
        except ValueError as exc:
            skipped.append(SkippedLine(where, str(exc)))
            continue
        pairs.append(Pair(SPLITS[source_file], source_file, number, label, context, response))
    return pairs, skipped


def load(settings: Settings | None = None) -> EcdSample:
    """Load the three files as :class:`Pair` records."""
    pairs: list[Pair] = []
    skipped: list[SkippedLine] = []
    for source_file in SPLITS:
        found, bad = read_split(source_file, settings)
        pairs.extend(found)
        skipped.extend(bad)
    return EcdSample(pairs=pairs, skipped=skipped)


def _consistent_blocks(pairs: list[Pair]) -> int:
    """Blocks of ten test lines whose first is the positive and all share one context."""
    blocks = [pairs[i : i + 10] for i in range(0, len(pairs), 10)]
    return sum(
        len(b) == 10
        and [p.label for p in b] == [1] + [0] * 9
        and len({p.context for p in b}) == 1
        for b in blocks
    )


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the files (keys ``<file>.<count>``)."""
    loaded = load(settings)
    found: dict[str, int] = {
        "rows": len(loaded.pairs) + len(loaded.skipped),
        "pairs": len(loaded.pairs),
        "skipped": len(loaded.skipped),
    }
    for source_file in SPLITS:
        pairs = [p for p in loaded.pairs if p.source_file == source_file]
        labels = Counter(p.label for p in pairs)
        found.update(
            {
                f"{source_file}.lines": len(pairs)
                + sum(s.where.startswith(f"{source_file} ") for s in loaded.skipped),
                f"{source_file}.positive": labels[1],
                f"{source_file}.negative": labels[0],
                f"{source_file}.contexts": len({p.context for p in pairs}),
                f"{source_file}.max_context_turns": max((len(p.context) for p in pairs), default=0),
                f"{source_file}.context_turns": sum(len(p.context) for p in pairs),
                f"{source_file}.odd_length_contexts": sum(
                    len(p.context) % 2 == 1 for p in pairs if p.label == 1
                ),
                f"{source_file}.customer_turns": sum(
                    len(p.customer_turns()) for p in pairs if p.label == 1
                ),
            }
        )
    found["test.blocks_of_ten_consistent"] = _consistent_blocks(
        [p for p in loaded.pairs if p.source_file == "test"]
    )
    return found


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
