"""Sub-commands imported on first use, so one command does not pay for every area's libraries.

Why: importing every ``cli/<area>.py`` up front pulls in scikit-learn, pandas,
DuckDB, the data-set registry and more (about two seconds on 2 cores) before
``shopintent serve`` has done anything, and every worker the service spawns
pays it again. :class:`LazyGroup` lists its sub-commands by name without
importing them and imports a sub-command's module only when that command is
run, its help is shown, or the whole list is rendered (``shopintent --help``,
the README reference), which therefore stays exactly what eager registration
gave.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup

#: A lazily registered sub-command: its name and where it lives, ``"module:attribute"``;
#: the attribute is a ``typer.Typer`` sub-app or a command function.
LazyEntry = tuple[str, str]


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class LazyCommands(MutableMapping[str, Any]):
    """Command name -> click command, in the order given; a lazy one is built on first access.

    A mapping rather than a plain dict because Typer's group reads its ``commands``
    directly (``get``, ``keys`` for "did you mean", ``items`` for the help list):
    names and order are known without importing anything, values are built once.
    """

    def __init__(self, order: list[str], built: dict[str, Any], lazy: dict[str, str],
                 build: Any) -> None:
        self._order = order
        self._built = built
        self._lazy = lazy
        self._build = build

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._lazy:
                raise KeyError(name)
            self._built[name] = self._build(name, _resolve(self._lazy[name]))
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._order.remove(name)
        self._built.pop(name, None)
        self._lazy.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order


class LazyGroup(TyperGroup):
    """A Typer group whose ``lazy_commands`` and ``lazy_groups`` are imported on first use.

    Listed in this order: the lazy commands, the commands registered on the app
    itself, the lazy sub-apps, then sub-apps registered with ``add_typer`` (as
    Typer lists commands before groups).
    """

    #: Set by :func:`lazy_group` on a subclass bound to one app's entries.
    lazy_commands: tuple[LazyEntry, ...] = ()
    lazy_groups: tuple[LazyEntry, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        eager = dict(self.commands)
        eager_groups = [n for n, c in eager.items() if isinstance(c, TyperGroup)]
        eager_commands = [n for n in eager if n not in eager_groups]
        order = [*(n for n, _ in self.lazy_commands), *eager_commands,
                 *(n for n, _ in self.lazy_groups), *eager_groups]
        lazy = dict(self.lazy_commands) | dict(self.lazy_groups)
        self.commands = LazyCommands(order, eager, lazy, self._build)  # type: ignore[assignment]

    def _build(self, name: str, target: Any) -> Any:
        """The click command of a sub-app or command function, built as ``add_typer`` /
        ``command`` on this app would have built it."""
        carrier = typer.Typer(rich_markup_mode=self.rich_markup_mode,  # type: ignore[arg-type]
                              suggest_commands=self.suggest_commands)
        if isinstance(target, typer.Typer):
            carrier.add_typer(target, name=name)
        else:
            carrier.command(name)(target)
        # Two registrations make a group, whatever the one registered is.
        carrier.callback()(lambda: None)
        return typer.main.get_group(carrier).commands[name]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)


def lazy_group(commands: tuple[LazyEntry, ...], groups: tuple[LazyEntry, ...]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class for ``typer.Typer(cls=...)`` with these lazy entries."""
    return type("ShopintentGroup", (LazyGroup,), {"lazy_commands": commands, "lazy_groups": groups})
