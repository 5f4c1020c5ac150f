"""The built-in rule kinds: ``default``, ``merchant``, ``category``, ``sku``, ``tier`` and
``campaign``, each built from a book file's ``[[rules]]`` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cps_ledger.domain.money import require_amount, require_rate
from cps_ledger.domain.periods import require_aware
from cps_ledger.domain.rules import COMMON_KEYS, LineContext, Quote, Rule, RuleFactory
from cps_ledger.errors import InvalidEventError


@dataclass(frozen=True, slots=True)
class MatchRule:
    """A built-in rule: quotes its fixed rate when ``matches`` holds for the line.

    ``field`` names the :class:`LineContext` attribute compared with ``value``; ``None``
    means the rule always applies (the ``default`` kind).
    """

    name: str
    version: int
    field: str | None
    value: str | None
    fixed: Quote

    def quote(self, ctx: LineContext) -> Quote | None:
        """The fixed quote if the line's attribute equals the rule's value."""
        if self.field is None or getattr(ctx, self.field) == self.value:
            return self.fixed
        return None


@dataclass(frozen=True, slots=True)
class CampaignRule:
    """Quotes its rate for lines paid in ``[starts_at, ends_at)``."""

    name: str
    version: int
    starts_at: datetime
    ends_at: datetime
    fixed: Quote

    def quote(self, ctx: LineContext) -> Quote | None:
        """The fixed quote if the line was paid inside the half-open window."""
        return self.fixed if self.starts_at <= ctx.paid_at < self.ends_at else None


def _text(spec: Mapping[str, Any], key: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{key}={value!r}: must be a non-empty string", field=key)
    return value


def _instant(spec: Mapping[str, Any], key: str) -> datetime:
    value = spec.get(key)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidEventError(f"{key}={value!r}: not ISO 8601", field=key) from None
    if not isinstance(value, datetime):
        raise InvalidEventError(f"{key}={value!r}: must be an ISO 8601 timestamp", field=key)
    require_aware(value, field=key)  # refuses naive; keep the offset for the rule's name
    return value


def _fixed_quote(spec: Mapping[str, Any], explanation: str) -> Quote:
    rate = require_rate(spec.get("rate"), field="rate")
    cap = spec.get("cap_minor")
    cap_minor = None if cap is None else require_amount(cap, field="cap_minor")
    return Quote(rate=rate, cap_minor=cap_minor, explanation=f"{explanation} at {rate}")


def _check_keys(spec: Mapping[str, Any], kind_keys: frozenset[str]) -> None:
    # A misspelt key (``cap_minr``) silently ignored would pay the wrong amount.
    for key in spec:
        if key not in COMMON_KEYS | kind_keys:
            raise InvalidEventError(f"unknown key {key!r} for this rule kind", field=key)


def _match_factory(field: str | None) -> RuleFactory:
    def build(spec: Mapping[str, Any], version: int) -> Rule:
        _check_keys(spec, frozenset() if field is None else frozenset({field}))
        value = None if field is None else _text(spec, field)
        default_name = "default" if value is None else f"{field}:{value}"
        name = _text(spec, "name") if "name" in spec else default_name
        return MatchRule(name, version, field, value, _fixed_quote(spec, default_name))

    return build


def _campaign(spec: Mapping[str, Any], version: int) -> Rule:
    _check_keys(spec, frozenset({"starts_at", "ends_at"}))
    starts_at, ends_at = _instant(spec, "starts_at"), _instant(spec, "ends_at")
    if not starts_at < ends_at:
        raise InvalidEventError(f"ends_at={ends_at} must be after starts_at", field="ends_at")
    window = f"{starts_at.isoformat()}..{ends_at.isoformat()}"
    name = _text(spec, "name") if "name" in spec else f"campaign:{window}"
    fixed = _fixed_quote(spec, f"campaign {window}")
    return CampaignRule(name, version, starts_at, ends_at, fixed)


BUILTIN_KINDS: Final[Mapping[str, RuleFactory]] = {
    "default": _match_factory(None),
    "merchant": _match_factory("merchant"),
    "category": _match_factory("category"),
    "sku": _match_factory("sku"),
    "tier": _match_factory("tier"),
    "campaign": _campaign,
}
