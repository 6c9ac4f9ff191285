"""A persona's system prompt as a template: ``{{ name }}`` is replaced by the variable's value.

Values come from the caller (``metadata`` entries ``persona.<name>``), else from the persona's
defaults, else from the built-ins (``today``: the UTC date); a variable with none of these is the
caller's mistake (400). Values are inserted as they are, never interpreted again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from switchyard.errors import InvalidRequestError

NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
_PLACEHOLDER = re.compile(r"\{\{\s*(" + NAME + r")\s*\}\}")
BUILT_INS = frozenset({"today"})


def placeholders(template: str) -> list[str]:
    """The variables ``template`` names, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


def render(template: str, values: Mapping[str, str], *, persona: str) -> str:
    """``template`` with every placeholder replaced. Raises InvalidRequestError naming the first
    variable that has no value."""
    missing = [name for name in placeholders(template) if name not in values]
    if missing:
        raise InvalidRequestError(
            f"The persona {persona!r} needs the variable {missing[0]!r}: send it as "
            f"metadata['persona.{missing[0]}'].",
            param=f"metadata.persona.{missing[0]}",
            code="persona_variable_missing",
        )
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
