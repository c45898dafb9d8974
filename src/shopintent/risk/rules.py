"""The shop-editable rule file: block lists, velocity limits and amount thresholds, beside the models.

Shops run rules next to models because a rule is instant to change, easy to
explain to a customer and catches what the model never saw (a stolen card
list, a promotion being farmed today). Rules are written in TOML, which a
shop can edit by hand and which Python reads without extra packages
(``tomllib``). A firing rule becomes a reason in the verdict and sets at
least its own action; the model's score may still raise it
(:mod:`shopintent.risk.verdict`).

Three kinds:

``block_list``
    fires when ``field`` holds one of ``values`` (ids, ips, card hashes).
``velocity``
    fires when a streaming count or rate ``field`` (e.g. ``ip_n1m``, clicks
    of this ip in the last minute; see :mod:`shopintent.risk.click_features`)
    is above ``max``.
``amount``
    fires when a transaction's ``field`` is above ``max`` or below ``min``
    (e.g. ``grandTotal`` above 300, ``trustLevel`` below 3).

Example (``docs/risk.md`` has a complete file)::

    [[rule]]
    name = "ip click burst"
    kind = "velocity"
    field = "ip_n1m"
    max = 30
    action = "hold"

>>> rules = parse_rules('[[rule]]\\nname = "big"\\nkind = "amount"\\nfield = "grandTotal"\\nmax = 90\\naction = "review"')
>>> [hit.reason for hit in evaluate_rules(rules, {"grandTotal": 99.5})]
['rule big: grandTotal 99.5 above 90']
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RULE_KINDS", "Rule", "RuleHit", "evaluate_rules", "load_rules", "parse_rules"]

RULE_KINDS: tuple[str, ...] = ("block_list", "velocity", "amount")
#: Actions a rule may set, mildest first (the same list as :data:`shopintent.risk.verdict.ACTIONS`).
RULE_ACTIONS: tuple[str, ...] = ("allow", "review", "hold", "block")


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the file."""

    name: str
    kind: str
    field: str
    action: str
    values: frozenset[Any] = frozenset()
    max: float | None = None
    min: float | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired on one event: its name, the action it asks for and why."""

    rule: str
    action: str
    reason: str


def parse_rules(text: str, source: str = "rule file") -> list[Rule]:
    """Read rules from TOML text; raise naming the rule (1-based) and the key that is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - {"rule"})
    if unknown:
        raise ValueError(f"{source}: unknown top-level key(s) {unknown}; rules go in [[rule]] tables")
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise ValueError(f"{source}: `rule` must be an array of tables ([[rule]])")  # noqa: TRY004 (a wrong file, not a wrong call)
    rules = [_rule(entry, i, source) for i, entry in enumerate(entries, start=1)]
    names = [r.name for r in rules]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"{source}: rule name(s) {duplicated} used more than once")
    return rules


def _rule(entry: Mapping[str, Any], number: int, source: str) -> Rule:
    where = f"{source}: rule {number}"
    allowed = {"name", "kind", "field", "action", "values", "max", "min"}
    extra = sorted(set(entry) - allowed)
    if extra:
        raise ValueError(f"{where}: unknown key(s) {extra}; allowed: {sorted(allowed)}")
    for key in ("name", "kind", "field", "action"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ValueError(f"{where}: `{key}` is missing or not a text")
    kind, action = entry["kind"], entry["action"]
    where = f"{source}: rule {number} ({entry['name']!r})"
    if kind not in RULE_KINDS:
        raise ValueError(f"{where}: `kind` {kind!r} is not one of {', '.join(RULE_KINDS)}")
    if action not in RULE_ACTIONS:
        raise ValueError(f"{where}: `action` {action!r} is not one of {', '.join(RULE_ACTIONS)}")
    if kind == "block_list":
        values = entry.get("values")
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: a block_list needs a non-empty `values` list")
        if "max" in entry or "min" in entry:
            raise ValueError(f"{where}: a block_list takes `values`, not `max`/`min`")
        return Rule(entry["name"], kind, entry["field"], action, values=frozenset(_key(v) for v in values))
    if "values" in entry:
        raise ValueError(f"{where}: a {kind} rule takes `max`/`min`, not `values`")
    limits = {}
    for key in ("max", "min"):
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{where}: `{key}` {value!r} is not a finite number")
            limits[key] = float(value)
    if not limits or (kind == "velocity" and "max" not in limits):
        need = "`max`" if kind == "velocity" else "`max` or `min`"
        raise ValueError(f"{where}: a {kind} rule needs {need}")
    return Rule(entry["name"], kind, entry["field"], action, max=limits.get("max"), min=limits.get("min"))


def _key(value: Any) -> Any:
    # ids compare as text, so 5348 in the file matches "5348" in an event and back
    return str(value)


def load_rules(path: Path | str) -> list[Rule]:
    """Read a rule file; raise naming the file when it is missing or wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"rule file {path} does not exist")
    return parse_rules(path.read_text(encoding="utf-8"), source=str(path))


def evaluate_rules(rules: Sequence[Rule], values: Mapping[str, Any]) -> list[RuleHit]:
    """Every rule that fires on ``values`` (an event's fields merged with its features).

    A rule whose field the event lacks (or holds as missing) does not fire:
    a rule file written for transactions must not block clicks.
    """
    hits = []
    for rule in rules:
        value = values.get(rule.field)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if rule.kind == "block_list":
            if _key(value) in rule.values:
                hits.append(RuleHit(rule.name, rule.action, f"rule {rule.name}: {rule.field} {value} is listed"))
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if rule.max is not None and number > rule.max:
            hits.append(RuleHit(rule.name, rule.action,
                                f"rule {rule.name}: {rule.field} {number:g} above {rule.max:g}"))
        elif rule.min is not None and number < rule.min:
            hits.append(RuleHit(rule.name, rule.action,
                                f"rule {rule.name}: {rule.field} {number:g} below {rule.min:g}"))
    return hits
