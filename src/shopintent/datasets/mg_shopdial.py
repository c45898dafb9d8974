"""MG-ShopDial (Bernard & Balog, SIGIR 2023): real English shopping conversations with intent and goal labels.

64 coached human-human chats between a shop assistant ("Wizard", with a
product search tool) and a shopper ("Client", given a scenario, not a script)
over Amazon catalogues of four categories; 2,196 utterances. Every utterance
has a conversational ``goal`` (``recommendation``, ``qa``, ``search``,
``meta``; one author's label) and crowd ``intents`` (dialogue acts such as
``o_question``, ``disclose``, ``greeting``; multi-label, each with the number
of workers who chose it, kept when at least two did). shopintent uses the
Client utterances as real pre-purchase shopper phrasing (product questions,
search, recommendation requests, chit-chat) that no template set has.

Reading the file (findings, not source facts):

- Vote counts are published as floats (``4.0``) and, for 37 labels, ints; they
  are read as ints. Some reach 8 although the data card says "out of 5".
- ``utterance_id`` is kept as published: it is not always ``1..n`` within a
  conversation, so an utterance is addressed by ``(conversation_id, position)``
  where ``position`` is its 0-based index in the file, and the id is kept beside it.
- The category is the first ``:``-separated part of the conversation id.

Caveats (PROVENANCE.txt): no licence is stated (research use; cite the
paper). Labels are pre-purchase dialogue acts and goals: there are no
after-sales labels (order status, refund, shipping, account). 64 dialogues are
tiny: split by conversation, never by utterance.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shopintent.datasets.base import DataFile, DatasetSpec, check_counts, data_path, github_raw
from shopintent.schema import TextQuery
from shopintent.settings import Settings

_REPO, _COMMIT = "iai-group/MG-ShopDial", "7bed1fbbce47684d15f3f017d68865dfbced3add"
DATA_FILE = "MGShopDial.json"

PARTICIPANTS: frozenset[str] = frozenset({"Client", "Wizard"})
GOALS: tuple[str, ...] = ("recommendation", "qa", "search", "meta")
INTENTS: tuple[str, ...] = (
    "o_question", "answer", "clarify", "interaction", "disclose", "pf", "greeting",
    "explain", "elicit", "recommend", "nf", "other",
)

SPEC = DatasetSpec(
    name="mg_shopdial",
    task="English shopping dialogues: utterance goal (recommendation / qa / search / meta) "
    "and multi-label dialogue-act intents",
    language="en",
    licence="none stated (no LICENSE file, the data card names none): research use",
    citation="Bernard & Balog, MG-ShopDial: A Multi-Goal Conversational Dataset for "
    "e-Commerce, SIGIR 2023, doi 10.1145/3539618.3591883",
    source=f"https://github.com/{_REPO} @ {_COMMIT} (MGShopDial/MGShopDial.json)",
    files=(
        DataFile(
            path=DATA_FILE,
            sha256="9e879293623a12302fa9aeb888bf20b7c52f71a17904e5fd36922c58335f0ab5",
            size=1_094_185,
            url=github_raw(_REPO, _COMMIT, f"MGShopDial/{DATA_FILE}"),
        ),
    ),
    expected_counts={
        "conversations": 64,
        "type.simple": 38,
        "type.complex": 26,
        "category.Cellphones&Accessories": 19,
        "category.SportsandOutdoors": 17,
        "category.Books": 14,
        "category.Officeproducts": 14,
        "rows": 2_196,
        "Client": 1_149,
        "Wizard": 1_047,
        "goal.recommendation": 973,
        "goal.meta": 509,
        "goal.qa": 483,
        "goal.search": 231,
        "Client.goal.recommendation": 442,
        "Client.goal.meta": 301,
        "Client.goal.qa": 261,
        "Client.goal.search": 145,
        "labels_per_utterance.0": 39,
        "labels_per_utterance.1": 736,
        "labels_per_utterance.2": 877,
        "labels_per_utterance.3": 361,
        "labels_per_utterance.4+": 183,
        **{f"Client.intent.{name}": n for name, n in (
            ("o_question", 333), ("answer", 329), ("clarify", 311), ("interaction", 256),
            ("disclose", 228), ("pf", 211), ("greeting", 172), ("explain", 158),
            ("elicit", 103), ("recommend", 58), ("nf", 47), ("other", 33),
        )},
        "Client.single_top_intent": 818,
        "Client.tied_top_intent": 312,
        "Client.unlabelled": 19,
    },
    description="One JSON array of conversations: id, metadata {type, id, constraint, desc, "
    "client_checklist, wizard_checklist, search_logs}, utterances [{utterance_id, "
    "participant, utterance, goal, intents [[intent, votes], …]}].",
)


@dataclass(frozen=True, slots=True)
class Utterance:
    """One turn: who said it, its text, its goal and its crowd intents with vote counts."""

    conversation_id: str
    position: int
    utterance_id: int
    participant: str
    text: str
    goal: str
    intents: tuple[tuple[str, int], ...]

    def top_intent(self) -> str | None:
        """The intent with the most votes, or ``None`` when unlabelled or tied."""
        if not self.intents:
            return None
        most = max(votes for _, votes in self.intents)
        top = [name for name, votes in self.intents if votes == most]
        return top[0] if len(top) == 1 else None


@dataclass(frozen=True, slots=True)
class Conversation:
    """One chat and the scenario the shopper was given."""

    conversation_id: str
    category: str
    kind: str
    constraint: str
    description: str
    utterances: tuple[Utterance, ...]


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A conversation or utterance that could not become a record, and why."""

    where: str
    reason: str


@dataclass
class MGShopDial:
    """The conversations in file order."""

    conversations: list[Conversation]
    skipped: list[SkippedRow] = field(default_factory=list)

    def utterances(self, participant: str | None = None) -> list[Utterance]:
        """Every utterance (or one participant's), conversation by conversation."""
        return [
            u
            for c in self.conversations
            for u in c.utterances
            if participant is None or u.participant == participant
        ]

    def client_queries(self) -> list[TextQuery]:
        """The shopper's utterances as text queries (goal, top intent and category as labels)."""
        category = {c.conversation_id: c.category for c in self.conversations}
        return [
            TextQuery(
                text=u.text,
                language="en",
                intent=None,
                labels={
                    "goal": u.goal,
                    "top_intent": u.top_intent() or "",
                    "category": category[u.conversation_id],
                },
                query_id=f"{u.conversation_id}/{u.position}",
            )
            for u in self.utterances("Client")
        ]

    def frame(self) -> pd.DataFrame:
        """One row per utterance, with its conversation's category and type."""
        rows = [
            (c.conversation_id, c.category, c.kind, u.position, u.utterance_id, u.participant,
             u.text, u.goal, u.top_intent(), ",".join(name for name, _ in u.intents))
            for c in self.conversations
            for u in c.utterances
        ]
        return pd.DataFrame(
            rows,
            columns=["conversation_id", "category", "type", "position", "utterance_id",
                     "participant", "text", "goal", "top_intent", "intents"],
        )


def _votes(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{where}: vote count {value!r} is not a whole number")
    return int(value)


def parse_utterance(raw: Any, conversation_id: str, position: int) -> Utterance:
    """Check one published utterance and map it onto :class:`Utterance`.

    Raises ``ValueError`` naming the conversation, the position and the field.
    """
    where = f"{conversation_id} utterance {position}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object, got {type(raw).__name__}")
    text, participant, goal = raw.get("utterance"), raw.get("participant"), raw.get("goal")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: `utterance` is missing or empty")
    if participant not in PARTICIPANTS:
        raise ValueError(f"{where}: `participant` {participant!r} is not Client or Wizard")
    if goal not in GOALS:
        raise ValueError(f"{where}: `goal` {goal!r} is not one of {', '.join(GOALS)}")
    utterance_id = raw.get("utterance_id")
    if not isinstance(utterance_id, int):
        raise ValueError(f"{where}: `utterance_id` {utterance_id!r} is not an integer")
    intents = []
    for item in raw.get("intents") or []:
        if not (isinstance(item, list) and len(item) == 2 and item[0] in INTENTS):
            raise ValueError(f"{where}: `intents` entry {item!r} is not [known intent, votes]")
        intents.append((item[0], _votes(item[1], where)))
    return Utterance(conversation_id, position, utterance_id, participant, text, goal,
                     tuple(intents))


def load(settings: Settings | None = None) -> MGShopDial:
    """Load every conversation; a malformed utterance is skipped with its reason."""
    with data_path(SPEC, DATA_FILE, settings).open(encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, list):
        raise ValueError(f"{SPEC.name}: {DATA_FILE} must hold a JSON array of conversations")
    conversations: list[Conversation] = []
    skipped: list[SkippedRow] = []
    for index, conv in enumerate(raw):
        conv_id = conv.get("id") if isinstance(conv, dict) else None
        if not isinstance(conv_id, str) or not isinstance(conv.get("utterances"), list):
            skipped.append(SkippedRow(f"{DATA_FILE}[{index}]", "no `id` or no `utterances` list"))
            continue
        meta = conv.get("metadata") or {}
        utterances = []
        for position, item in enumerate(conv["utterances"]):
            try:
                utterances.append(parse_utterance(item, conv_id, position))
            except ValueError as exc:
                skipped.append(SkippedRow(f"{conv_id} utterance {position}", str(exc)))
        conversations.append(
            Conversation(
                conversation_id=conv_id,
                category=conv_id.split(":", 1)[0],
                kind=str(meta.get("type", "")),
                constraint=str(meta.get("constraint", "")),
                description=str(meta.get("desc", "")),
                utterances=tuple(utterances),
            )
        )
    return MGShopDial(conversations=conversations, skipped=skipped)


def counts(settings: Settings | None = None) -> dict[str, int]:
    """The counts PROVENANCE.txt states, computed from the file."""
    loaded = load(settings)
    every = loaded.utterances()
    client = loaded.utterances("Client")
    found: dict[str, int] = {
        "conversations": len(loaded.conversations),
        "rows": len(every) + sum("utterance" in s.where for s in loaded.skipped),
        "utterances": len(every),
        "skipped": len(loaded.skipped),
    }
    found.update({f"type.{k}": n for k, n in Counter(c.kind for c in loaded.conversations).items()})
    found.update(
        {f"category.{k}": n for k, n in Counter(c.category for c in loaded.conversations).items()}
    )
    found.update(Counter(u.participant for u in every))
    found.update({f"goal.{k}": n for k, n in Counter(u.goal for u in every).items()})
    found.update({f"Client.goal.{k}": n for k, n in Counter(u.goal for u in client).items()})
    per_utterance = Counter(min(len(u.intents), 4) for u in every)
    found.update({f"labels_per_utterance.{k}": per_utterance[k] for k in range(4)})
    found["labels_per_utterance.4+"] = per_utterance[4]
    found.update(
        {f"Client.intent.{k}": n for k, n in Counter(i for u in client for i, _ in u.intents).items()}
    )
    found["Client.unlabelled"] = sum(not u.intents for u in client)
    found["Client.single_top_intent"] = sum(u.top_intent() is not None for u in client)
    found["Client.tied_top_intent"] = (
        len(client) - found["Client.single_top_intent"] - found["Client.unlabelled"]
    )
    found["max_votes"] = max((v for u in every for _, v in u.intents), default=0)
    return found


def verify(settings: Settings | None = None) -> dict[str, int]:
    """Compute the counts and raise if any differs from the provenance."""
    found = counts(settings)
    check_counts(SPEC, found)
    return found
