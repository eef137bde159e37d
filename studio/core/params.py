"""Typed, self-describing settings: the one schema behind forms, files and validation.

Layer specs, dataset specs and the training settings all declare their settings as `Param`s, so the
inspector form, the project file and the error messages come from one description.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ParamKind = Literal["int", "float", "bool", "choice", "str", "ints"]


@dataclass(frozen=True)
class Param:
    """One setting: its type, default, allowed range or choices, and one line of help."""

    name: str
    kind: ParamKind
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    length: int | None = None  # for "ints": how many values (e.g. 2 for a kernel size)
    label: str = ""
    optional: bool = False  # an "int" or "float" that may be None ("not set")
    # Shown only while another setting has one of some values, e.g. ("kind", ("image",)); the value
    # is kept either way, so switching back restores it.
    shown_when: tuple[str, tuple[str, ...]] | None = None
    path: Literal["", "file", "folder"] = ""  # a "str" naming a file or folder: forms offer Browse

    def __post_init__(self) -> None:
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"default of {self.name!r} is not among its choices")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())
        # The default must itself be valid, or every new layer would start broken.
        self.check(self.default)

    def check(self, value: Any) -> Any:
        """Return `value` normalised to this parameter's type, or raise ValueError saying why not."""
        if value is None and self.optional:
            return None
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expects true or false, got {_show(value)}")
            return value
        if kind == "int":
            return self._in_range(_as_int(value))
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"expects a number, got {_show(value)}")
            try:
                number = float(value)  # a whole number too large for a float raises OverflowError
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise ValueError(f"expects a finite number, got {_show(value)}")
            return self._in_range(number)
        if kind == "choice":
            if value not in self.choices:
                raise ValueError(f"expects one of {', '.join(self.choices)}; got {_show(value)}")
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError(f"expects text, got {_show(value)}")
            return value
        if kind == "ints":
            if isinstance(value, (int, bool)) and not isinstance(value, bool):
                value = [value] * (self.length or 1)
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"expects a list of whole numbers, got {_show(value)}")
            if self.length is not None and len(value) != self.length:
                raise ValueError(f"expects {self.length} whole numbers, got {len(value)}")
            return tuple(self._in_range(_as_int(v)) for v in value)
        raise ValueError(f"unknown parameter kind {kind!r}")  # pragma: no cover - specs are static

    def relevant(self, values: Mapping[str, Any]) -> bool:
        """Whether this setting matters given the others (forms hide it when not)."""
        if self.shown_when is None:
            return True
        other, wanted = self.shown_when
        return values.get(other) in wanted

    def to_json(self, value: Any) -> Any:
        """The value as it is written to a project file (tuples become lists)."""
        return list(value) if isinstance(value, tuple) else value

    def describe_range(self) -> str:
        """A short human description of what is allowed, for tooltips and messages."""
        if self.kind == "choice":
            return " | ".join(self.choices)
        lo = "" if self.minimum is None else f"{self.minimum:g}"
        hi = "" if self.maximum is None else f"{self.maximum:g}"
        if lo and hi:
            return f"{lo} to {hi}"
        if lo:
            return f">= {lo}"
        if hi:
            return f"<= {hi}"
        return self.kind

    def _in_range(self, value: float) -> Any:
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}, got {_show(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class ParamSet:
    """An ordered collection of `Param`s with validation of whole settings dicts."""

    params: tuple[Param, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"parameter declared twice: {', '.join(sorted(dupes))}")

    def __iter__(self):
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(self, values: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Full, normalised settings from `values` (missing ones take defaults).

        Raises `ParamValueError` naming the first bad or unknown setting.
        """
        if not isinstance(values, Mapping):
            raise ParamValueError(None, f"expects a mapping of settings, got {_show(values)}")
        known = set(self.names())
        for key in values:
            if key not in known:
                raise ParamValueError(str(key), f"unknown setting; known: {', '.join(sorted(known))}")
        out: dict[str, Any] = {} if partial else self.defaults()
        for p in self.params:
            if p.name in values:
                try:
                    out[p.name] = p.check(values[p.name])
                except ValueError as exc:
                    raise ParamValueError(p.name, str(exc)) from None
        return out

    def to_json(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {p.name: p.to_json(values[p.name]) for p in self.params if p.name in values}


class ParamValueError(ValueError):
    """A setting with a bad value; `.name` is the setting (None when the whole mapping is wrong)."""

    def __init__(self, name: str | None, message: str):
        self.name = name
        self.reason = message
        super().__init__(f"{name}: {message}" if name else message)


def params(*items: Param | Iterable[Param]) -> ParamSet:
    """Build a ParamSet from Params and iterables of Params (for shared groups)."""
    flat: list[Param] = []
    for item in items:
        if isinstance(item, Param):
            flat.append(item)
        else:
            flat.extend(item)
    return ParamSet(tuple(flat))


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expects a whole number, got {_show(value)}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise ValueError(f"expects a whole number, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
