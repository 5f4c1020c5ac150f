"""Commission rules (DESIGN §5): which rate an order line earns, and why.

A book's ``[[rules]]`` tables are compiled once into a :class:`RuleSet`; quoting a line then
only compares values. Rules are tried by priority, highest first, equal priorities in file
order; the first rule that quotes wins, and when none does the rate is 0. Third-party kinds
register in the ``cps_ledger.rules`` entry-point group.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Protocol, runtime_checkable

from cps_ledger.domain import plugins
from cps_ledger.domain.money import AMOUNT_MAX_MINOR, require_amount, require_rate
from cps_ledger.domain.records import quick_init
from cps_ledger.errors import (
    BadInputError,
    InvalidAmountError,
    InvalidEventError,
    InvalidRateError,
    NaiveDatetimeError,
    UnknownRuleKindError,
)

RULES_GROUP: Final = "cps_ledger.rules"
NO_RULE: Final = "none"
"""The rule name recorded when no rule quotes a line (its rate is 0)."""
COMMON_KEYS: Final = frozenset({"kind", "priority", "rate", "cap_minor", "name"})


@quick_init
@dataclass(frozen=True, slots=True)
class LineContext:
    """An order line in its context: everything a rule may look at to quote it."""

    book: str
    merchant: str
    sku: str | None
    category: str | None
    amount_minor: int
    quantity: int
    promoter: str
    tier: str | None
    paid_at: datetime

    def __post_init__(self) -> None:
        # Every line of every order passes here: the common case is a few comparisons, the
        # full checks (and their typed errors) run only when one fails.
        amount, quantity = self.amount_minor, self.quantity
        if type(amount) is not int or not 0 <= amount <= AMOUNT_MAX_MINOR:
            require_amount(amount, field="amount_minor")
        if type(quantity) is not int or not 1 <= quantity <= AMOUNT_MAX_MINOR:
            require_amount(quantity, field="quantity", minimum=1)
        if self.paid_at.utcoffset() is None:
            raise NaiveDatetimeError(field="paid_at", value=self.paid_at.isoformat())


@quick_init
@dataclass(frozen=True, slots=True)
class Quote:
    """A rule's answer for a line: the rate, an optional cap, and a human explanation."""

    rate: Decimal
    cap_minor: int | None = None
    explanation: str = ""

    def __post_init__(self) -> None:
        # Plug-ins build quotes too: a float rate or negative cap must never reach the money.
        require_rate(self.rate, field="rate")
        if not isinstance(self.rate, Decimal):
            raise InvalidRateError(field="rate", value=self.rate, reason="must be a Decimal")
        if self.cap_minor is not None:
            require_amount(self.cap_minor, field="cap_minor")


@runtime_checkable
class Rule(Protocol):
    """Anything with a name, a version and a ``quote`` method is a rule."""

    @property
    def name(self) -> str:
        """The name recorded on every line this rule quotes."""
        ...

    @property
    def version(self) -> int:
        """The rules version of the set that published this rule."""
        ...

    def quote(self, ctx: LineContext) -> Quote | None:
        """The quote for ``ctx``, or ``None`` when the rule does not apply."""
        ...


RuleFactory = Callable[[Mapping[str, Any], int], Rule]
"""What a rule kind is: ``(spec, version) -> Rule``; plug-ins register one per kind."""


# -- modifiers ---------------------------------------------------------------------------


class Modifier(Protocol):
    """A step applied to the rounded commission, after the rate, in order."""

    def apply(self, commission_minor: int) -> int:
        """The commission after this modifier."""
        ...


@quick_init
@dataclass(frozen=True, slots=True)
class CapModifier:
    """``c = min(c, cap_minor)``: the cap of the rule that quoted."""

    cap_minor: int

    def apply(self, commission_minor: int) -> int:
        """The commission, never above the cap."""
        return min(commission_minor, self.cap_minor)


def modifiers_for(*, cap_minor: int | None) -> tuple[Modifier, ...]:
    """The modifiers of a quote, in the order they apply (keyword-only so more can follow)."""
    return () if cap_minor is None else (CapModifier(cap_minor),)


def apply_modifiers(commission_minor: int, modifiers: Sequence[Modifier]) -> int:
    """Apply ``modifiers`` in order to the commission rounded from the rate."""
    for modifier in modifiers:
        commission_minor = modifier.apply(commission_minor)
    return commission_minor


@functools.cache
def _factory(kind: str) -> RuleFactory:
    return plugins.resolve(
        RULES_GROUP, kind, _builtin_kinds(), lambda: UnknownRuleKindError(kind=kind)
    )


def _builtin_kinds() -> Mapping[str, RuleFactory]:
    # Imported here: the built-in kinds are written against this module's protocol.
    from cps_ledger.domain.rule_kinds import BUILTIN_KINDS  # noqa: PLC0415  (import cycle)

    return BUILTIN_KINDS


def rule_kinds() -> list[str]:
    """Every rule kind that a book may use: the built-ins and the installed plug-ins."""
    return plugins.names(RULES_GROUP, _builtin_kinds())


# -- rule sets ---------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True, slots=True)
class Selection:
    """The rule that quoted a line (or :data:`NO_RULE`), its version and its quote."""

    rule: str
    version: int
    quote: Quote


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One published version of a book's rules, already in the order they are tried."""

    version: int
    rules: tuple[Rule, ...]

    def select(self, ctx: LineContext) -> Selection:
        """The first rule that quotes ``ctx``; rate 0 under :data:`NO_RULE` when none does."""
        for rule in self.rules:
            if (quote := rule.quote(ctx)) is not None:
                return Selection(rule.name, rule.version, quote)
        return Selection(NO_RULE, self.version, Quote(Decimal(0), None, "no rule applies"))


def _locate(error: BadInputError, index: int) -> BadInputError:
    """The same error with its field prefixed by ``rules.{index}.`` so a file can be fixed."""
    values = error.values
    field = f"rules.{index}.{values['field']}"
    if isinstance(error, InvalidRateError):
        return InvalidRateError(field=field, value=values["value"], reason=values["reason"])
    if isinstance(error, InvalidAmountError):
        return InvalidAmountError(field=field, value=values["value"], reason=values["reason"])
    if isinstance(error, NaiveDatetimeError):
        return NaiveDatetimeError(field=field, value=values["value"])
    if isinstance(error, InvalidEventError):
        return InvalidEventError(f"{field}: {error.message}", field=field)
    return error


def _compile(spec: Mapping[str, Any], version: int) -> tuple[int, Rule]:
    kind = spec.get("kind")
    if not isinstance(kind, str):
        raise InvalidEventError(f"kind={kind!r}: must be a rule kind name", field="kind")
    priority = spec.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidEventError(f"priority={priority!r}: must be an integer", field="priority")
    rule = _factory(kind)(spec, version)
    if not isinstance(rule, Rule):
        raise InvalidEventError(f"rule kind {kind!r} did not build a rule", field="kind")
    return priority, rule


def build_ruleset(specs: Sequence[Mapping[str, Any]], version: int) -> RuleSet:
    """Compile rule specs (the book file's ``[[rules]]`` tables) into a :class:`RuleSet`.

    Rules are ordered by priority, highest first; ``sorted`` is stable, so equal priorities
    keep file order. Bad values raise typed errors naming ``rules.{i}.<field>``.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidEventError(f"version={version!r}: must be an integer >= 1", field="version")
    compiled: list[tuple[int, Rule]] = []
    for index, spec in enumerate(specs):
        try:
            compiled.append(_compile(spec, version))
        except (InvalidRateError, InvalidAmountError, InvalidEventError, NaiveDatetimeError) as e:
            if e.values.get("field") is None:
                raise
            raise _locate(e, index) from e
    ordered = sorted(compiled, key=lambda pair: pair[0], reverse=True)
    return RuleSet(version, tuple(rule for _, rule in ordered))
