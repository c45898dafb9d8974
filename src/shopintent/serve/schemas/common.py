"""Field types shared by the schema modules: bounded text that is valid Unicode."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field


def _valid_unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains invalid Unicode (a lone surrogate); send UTF-8 text") from None
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def _id_text(value: object) -> object:
    # Many shops use numeric ids; store them as text. Booleans are not ids.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: An id: text (or an integer, kept as text), at most 256 characters.
Id = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=256),
               AfterValidator(_valid_unicode)]
#: Free text (queries, messages), at most 2,000 characters.
Text = Annotated[str, Field(max_length=2000), AfterValidator(_valid_unicode)]
