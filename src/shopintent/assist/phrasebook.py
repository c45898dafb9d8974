"""The shop's answer templates for the service flows: one TOML file, zh and en, checked on load.

Why a file and not strings in code: the wording, the return / cancel / delivery
windows and the hand-over thresholds are the shop's policy, so a shop edits its
own copy (``Settings.assist_templates``) and the assistant answers only with what
that file says. Placeholders are ``${name}`` (:class:`string.Template`, which
cannot reach attributes or call anything, unlike ``str.format``), and every
placeholder is checked against the names its outcome can fill when the file is
loaded, so a typo fails at start with the flow, language and key named rather
than in front of a shopper.

>>> book = Phrasebook.load()
>>> book.render("cancel", "en", "general", {"cancel_window_hours": 24, "return_window_days": 7})[:40]
'Orders can be cancelled free of charge w'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

#: The template file shipped with the package (a shop points ``Settings.assist_templates`` at its copy).
DEFAULT_TEMPLATES = Path(__file__).with_name("templates") / "service_answers.toml"
#: Languages every answer must exist in.
LANGUAGES = ("en", "zh")
#: The outcomes each flow's answers must hold, in every language.
FLOW_OUTCOMES: dict[str, tuple[str, ...]] = {
    "order_status": ("found", "not_found", "no_orders"),
    "cancel": ("open", "closed", "not_found", "no_orders", "general"),
    "return": ("open", "closed", "not_found", "no_orders", "general"),
    "refund": ("found", "not_found", "no_orders", "general"),
    "delivery": ("found", "not_found", "no_orders", "general"),
    "payment": ("found", "not_found", "no_orders", "general"),
    "account": ("general",),
}
#: Placeholders every outcome may use.
COMMON_FIELDS = frozenset({"return_window_days", "cancel_window_hours", "delivery_days", "orders"})
#: Placeholders an outcome about one order may use as well.
ORDER_FIELDS = frozenset({"order_ref", "purchased_at", "item", "quantity", "total", "days_since",
                          "return_until", "cancel_until", "delivery_by"})
#: Outcomes that describe one found order (they may use :data:`ORDER_FIELDS`).
ORDER_OUTCOMES = frozenset({"found", "open", "closed"})
#: Hand-over reasons each language must have an answer for.
HANDOVER_REASONS = ("asked_for_person", "out_of_scope", "low_confidence", "negative_sentiment",
                    "high_risk", "no_store")
#: Answers outside the flows each language must have.
FALLBACKS = ("no_text", "no_answer")


class TemplateError(ValueError):
    """The template file is missing a key or uses a placeholder its outcome cannot fill."""


@dataclass(frozen=True)
class HandoverThresholds:
    """When to pass a shopper to a person (the ``[handover]`` table of the file)."""

    min_confidence: float = 0.45
    negative_sentiment_confidence: float = 0.85
    risk_actions: tuple[str, ...] = ("hold", "block")


@dataclass(frozen=True)
class Phrasebook:
    """The parsed, checked template file."""

    path: Path
    answers: dict[str, dict[str, dict[str, str]]]  # section -> language -> key -> template
    settings: dict[str, Any]
    words: dict[str, dict[str, str]]  # language -> latest_order / unknown / currency
    handover: HandoverThresholds
    default_language: str = "en"

    @classmethod
    def load(cls, path: Path | str | None = None) -> Phrasebook:
        """Read and check a template file (``None``: the one shipped with the package)."""
        source = Path(path) if path is not None else DEFAULT_TEMPLATES
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TemplateError(f"assist template file {source} does not exist: copy "
                                f"{DEFAULT_TEMPLATES} and edit it, or unset "
                                "SHOPINTENT_ASSIST_TEMPLATES") from None
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError(f"assist template file {source} is not valid TOML: {exc}") from None
        return cls._from_table(source, raw)

    @classmethod
    def _from_table(cls, source: Path, raw: dict[str, Any]) -> Phrasebook:
        def fail(where: str, problem: str) -> TemplateError:
            return TemplateError(f"{source}: [{where}] {problem}")

        settings = dict(raw.get("settings", {}))
        for number in ("return_window_days", "cancel_window_hours", "delivery_days"):
            value = settings.get(number)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise fail("settings", f"`{number}` must be a whole number >= 0, not {value!r}")
        words: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            table = settings.pop(language, None)
            if not isinstance(table, dict):
                raise fail(f"settings.{language}", "is missing")
            for word in ("latest_order", "unknown", "currency"):
                if not isinstance(table.get(word), str):
                    raise fail(f"settings.{language}", f"`{word}` must be text")
            words[language] = {k: str(v) for k, v in table.items()}
        default_language = str(settings.pop("default_language", "en"))
        if default_language not in LANGUAGES:
            raise fail("settings", f"`default_language` {default_language!r} is not one of {LANGUAGES}")

        thresholds = dict(raw.get("handover", {}))
        answers: dict[str, dict[str, dict[str, str]]] = {}
        sections = {**{flow: raw.get(flow) for flow in FLOW_OUTCOMES}, "fallback": raw.get("fallback"),
                    "handover": {k: v for k, v in thresholds.items() if k in LANGUAGES}}
        for section, table in sections.items():
            if not isinstance(table, dict):
                raise fail(section, "is missing")
            answers[section] = {}
            for language in LANGUAGES:
                texts = table.get(language)
                if not isinstance(texts, dict) or not texts:
                    raise fail(f"{section}.{language}", "is missing")
                for key, text in texts.items():
                    if not isinstance(text, str) or not text.strip():
                        raise fail(f"{section}.{language}", f"`{key}` must be non-empty text")
                    allowed = COMMON_FIELDS | (ORDER_FIELDS if key in ORDER_OUTCOMES else frozenset())
                    template = Template(text)
                    if not template.is_valid():
                        raise fail(f"{section}.{language}", f"`{key}` has a stray `$` (write `$$`)")
                    unknown = sorted(set(template.get_identifiers()) - allowed)
                    if unknown:
                        raise fail(f"{section}.{language}",
                                   f"`{key}` uses {', '.join('${' + u + '}' for u in unknown)}, which "
                                   f"it cannot fill; it may use {', '.join(sorted(allowed))}")
                answers[section][language] = {str(k): str(v) for k, v in texts.items()}
        required = {"handover": HANDOVER_REASONS, "fallback": FALLBACKS, **FLOW_OUTCOMES}
        for section, keys in required.items():
            for language in LANGUAGES:
                missing = [k for k in keys if k not in answers[section][language]]
                if missing:
                    raise fail(f"{section}.{language}", f"needs {', '.join(missing)}")
        try:
            handover = HandoverThresholds(
                min_confidence=float(thresholds.get("min_confidence", 0.45)),
                negative_sentiment_confidence=float(thresholds.get("negative_sentiment_confidence", 0.85)),
                risk_actions=tuple(str(a) for a in thresholds.get("risk_actions", ("hold", "block"))))
        except (TypeError, ValueError) as exc:
            raise fail("handover", f"thresholds must be numbers: {exc}") from None
        for name in ("min_confidence", "negative_sentiment_confidence"):
            if not 0.0 <= getattr(handover, name) <= 1.0:
                raise fail("handover", f"`{name}` must be in [0, 1]")
        return cls(source, answers, settings, words, handover, default_language)

    def summary(self) -> dict[str, Any]:
        """What the file holds, for ``shopintent assist templates``: answers per flow, windows, thresholds."""
        return {
            "path": str(self.path), "languages": list(LANGUAGES), "default_language": self.default_language,
            "answers": {section: sorted(self.answers[section][LANGUAGES[0]]) for section in self.answers},
            "windows": {k: self.settings[k] for k in ("return_window_days", "cancel_window_hours",
                                                       "delivery_days")},
            "handover": {"min_confidence": self.handover.min_confidence,
                         "negative_sentiment_confidence": self.handover.negative_sentiment_confidence,
                         "risk_actions": list(self.handover.risk_actions)},
        }

    def has(self, section: str, language: str, key: str) -> bool:
        """Whether the file holds an answer for ``key`` in ``section`` and ``language``."""
        return key in self.answers.get(section, {}).get(language, {})

    def render(self, section: str, language: str, key: str, fields: dict[str, Any]) -> str:
        """The answer ``section.language.key`` with its placeholders filled from ``fields``."""
        language = language if language in LANGUAGES else self.default_language
        text = self.answers[section][language][key]
        values = {**{k: self.settings[k] for k in ("return_window_days", "cancel_window_hours",
                                                  "delivery_days")}, **fields}
        return Template(text).safe_substitute({k: str(v) for k, v in values.items()})
