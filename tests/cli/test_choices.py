"""Every closed CLI choice is an Enum, and each Enum lists exactly what its library accepts."""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing

import pytest
import typer

from shopintent.cli import choices
from shopintent.cli.main import app


def _library_values() -> dict[type, tuple[str, ...]]:
    from shopintent.behaviour.generic import TASK_NAMES
    from shopintent.datasets.registry import DATASET_NAMES
    from shopintent.evaluation.bench import AREAS
    from shopintent.intervene.action_dist import METHODS
    from shopintent.intervene.learn import LEARNERS
    from shopintent.prepare import catalogue
    from shopintent.recommend.data import SEQUENCE_FORMATS
    from shopintent.recommend.registry import MODELS
    from shopintent.recommend.workflow import PROTOCOLS
    from shopintent.serve.config import AUTO_DECIDE, INTENT_ENCODERS, STATE_BACKENDS, STREAM_BACKENDS
    from shopintent.text.backbones import BACKBONES
    from shopintent.text.defaults import COMPONENTS
    from shopintent.text.encoders import ENCODERS
    from shopintent.text.features import SERVING_VARIANTS

    return {
        choices.BehaviourTask: TASK_NAMES,
        choices.DatasetName: DATASET_NAMES,
        choices.BenchArea: ("all", *AREAS),
        choices.TargetDistribution: METHODS,
        choices.Learner: LEARNERS,
        choices.DefaultModelName: tuple(sorted(catalogue.names())),
        choices.SequenceFormat: SEQUENCE_FORMATS,
        choices.RecommenderName: tuple(MODELS),
        choices.Protocol: PROTOCOLS,
        choices.StreamBackend: STREAM_BACKENDS,
        choices.StateBackend: STATE_BACKENDS,
        choices.AutoDecide: AUTO_DECIDE,
        choices.Backbone: BACKBONES,
        choices.TextComponent: COMPONENTS,
        # serving-only variants (the int8 run of USE) are not offered for training
        choices.Encoder: (*(name for name in ENCODERS if name not in SERVING_VARIANTS.values()), "none"),
        choices.IntentEncoder: INTENT_ENCODERS,
    }


def test_each_choice_enum_lists_what_its_library_accepts() -> None:
    for enum, expected in _library_values().items():
        got = choices.values(enum)
        if enum is choices.DefaultModelName:
            got = tuple(sorted(got))
        assert got == tuple(expected), enum.__name__


def _commands() -> typing.Iterator[tuple[str, typer.core.TyperCommand]]:
    def walk(group: typer.core.TyperGroup, path: str) -> typing.Iterator[tuple[str, typing.Any]]:
        ctx = typer.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            yield f"{path} {name}", command
            if getattr(command, "commands", None) is not None:
                yield from walk(command, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "shopintent")


def test_every_option_and_argument_has_help() -> None:
    missing = [f"{path} {param.name}" for path, command in _commands() for param in command.params
               if not (getattr(param, "help", None) or "").strip()]
    assert missing == []


def _compared_to_literals(function: typing.Callable[..., object], name: str) -> bool:
    """Whether ``function`` compares ``name`` with string literals (``==``, ``in (…)``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if not any(isinstance(side, ast.Name) and side.id == name for side in sides):
            continue
        for side in sides:
            if isinstance(side, ast.Constant) and isinstance(side.value, str):
                return True
            if isinstance(side, (ast.Tuple, ast.List, ast.Set)) and any(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in side.elts):
                return True
    return False


def test_no_free_string_option_is_checked_against_fixed_strings_by_hand() -> None:
    offenders = []
    for path, command in _commands():
        if command.callback is None:
            continue
        hints = typing.get_type_hints(command.callback)
        for param in command.params:
            hint = hints.get(param.name or "")
            if hint in (str, str | None, list[str], list[str] | None) and _compared_to_literals(
                    command.callback, param.name or ""):
                offenders.append(f"{path} {param.opts[0]}")
    assert offenders == [], "make these options Enums (shopintent.cli.choices)"


def test_the_check_above_catches_a_hand_checked_string() -> None:
    def command(kind: str = "linear") -> None:
        if kind not in ("linear", "finetune"):
            raise typer.Exit(2)

    assert _compared_to_literals(command, "kind")
    assert not _compared_to_literals(command, "other")


@pytest.mark.parametrize("args", [["behaviour", "train", "--help"], ["serve", "--help"],
                                  ["recommend", "evaluate", "--help"], ["intervene", "ope", "--help"]])
def test_help_lists_the_choices(args: list[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0
    listed = {"behaviour": "<purchase|abandon|next-action>", "serve": "<memory|redis>",
              "recommend": "<pop|sknn|sasrec|als|content|hybrid>",
              "intervene": "<empirical|time_local|mean_propensity>"}[args[0]]
    assert listed in result.output


def test_shell_completion_offers_the_choices() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [], prog_name="shopintent", env={
        "_SHOPINTENT_COMPLETE": "complete_bash", "COMP_WORDS": "shopintent behaviour train --task ",
        "COMP_CWORD": "4"})
    assert result.output.split() == ["purchase", "abandon", "next-action"]
