"""The book file (TOML) of DESIGN §6: settings, split and commission rules of one programme.

Only the shape is checked here. Rules of a kind that is not built in are kept with their
extra keys, because a plug-in may define that kind; whether it is registered is checked when
the rules are compiled (``rules.build_ruleset``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from cps_ledger.domain.books import BookDefinition
from cps_ledger.domain.canonical import sha256_of
from cps_ledger.domain.fields import (
    Amount,
    Id,
    LedgerModel,
    Rate,
    Timestamp,
)
from cps_ledger.domain.periods import DEFAULT_TIMEZONE, zone
from cps_ledger.errors import BookFileError, CpsLedgerError, InvalidEventError

RULES_PER_BOOK_MAX: Final = 500
PRIORITY_MAX: Final = 2**31 - 1
"""Priorities fit a 32-bit INTEGER column, either sign."""
NAME_LENGTH_MAX: Final = 100
BUILTIN_RULE_KINDS: Final = frozenset(
    {"default", "merchant", "category", "sku", "campaign", "tier"}
)

_Currency = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3}$")]
_Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=NAME_LENGTH_MAX)]
_Priority = Annotated[int, Field(strict=True, ge=-PRIORITY_MAX, le=PRIORITY_MAX)]


class BookSection(LedgerModel):
    """``[book]``: the programme's code and settings."""

    code: Id
    currency: _Currency = "CNY"
    timezone: Annotated[str, Field(strict=True)] = DEFAULT_TIMEZONE
    payout_minimum_minor: Amount = 0
    withholding: Id = "none"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except InvalidEventError:
            raise PydanticCustomError("invalid_timezone", "unknown IANA time zone") from None
        return value


class SplitSection(LedgerModel):
    """``[split]``: the shares of a commission; the promoter gets what is left."""

    fee_rate: Rate
    upline_rate: Rate
    policy: Id = "standard"

    @field_validator("upline_rate")
    @classmethod
    def _shares_fit(cls, value: Any, info: ValidationInfo) -> Any:
        fee_rate = info.data.get("fee_rate")  # absent when fee_rate itself was refused
        if fee_rate is not None and fee_rate + value > 1:
            raise PydanticCustomError(
                "invalid_rate",
                "{reason}",
                {"reason": f"fee_rate {fee_rate} + upline_rate {value} exceeds 1"},
            )
        return value


class _RuleCommon(LedgerModel):
    priority: _Priority
    rate: Rate
    cap_minor: Amount | None = None
    name: _Name | None = None


class DefaultRule(_RuleCommon):
    """Quotes every line."""

    kind: Literal["default"]


class MerchantRule(_RuleCommon):
    """Quotes the lines of one merchant."""

    kind: Literal["merchant"]
    merchant: Id


class CategoryRule(_RuleCommon):
    """Quotes the lines of one category."""

    kind: Literal["category"]
    category: Id


class SkuRule(_RuleCommon):
    """Quotes the lines of one SKU."""

    kind: Literal["sku"]
    sku: Id


class TierRule(_RuleCommon):
    """Quotes the lines of promoters in one tier."""

    kind: Literal["tier"]
    tier: Id


class CampaignRule(_RuleCommon):
    """Quotes lines paid in ``[starts_at, ends_at)``."""

    kind: Literal["campaign"]
    starts_at: Timestamp
    ends_at: Timestamp

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: Any, info: ValidationInfo) -> Any:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and not starts_at < value:
            raise PydanticCustomError("invalid_window", "must be after starts_at")
        return value


class PluginRule(_RuleCommon):
    """A rule of a kind that is not built in; its own keys are kept for its plug-in."""

    model_config = ConfigDict(extra="allow")

    kind: Id


def _rule_tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) and kind in BUILTIN_RULE_KINDS else "plugin"


RuleSpec = Annotated[
    Annotated[DefaultRule, Tag("default")]
    | Annotated[MerchantRule, Tag("merchant")]
    | Annotated[CategoryRule, Tag("category")]
    | Annotated[SkuRule, Tag("sku")]
    | Annotated[TierRule, Tag("tier")]
    | Annotated[CampaignRule, Tag("campaign")]
    | Annotated[PluginRule, Tag("plugin")],
    Discriminator(_rule_tag),
]
"""One ``[[rules]]`` table: a built-in kind (extra keys refused) or a plug-in kind."""


class BookFile(LedgerModel):
    """A whole book file: ``[book]``, ``[split]`` and ``[[rules]]`` in file order."""

    # Errors in a rule are located at ("rules", index, tag, field...).
    union_tag_positions: ClassVar[tuple[int, ...]] = (2,)

    book: BookSection
    split: SplitSection
    rules: Annotated[list[RuleSpec], Field(default_factory=list, max_length=RULES_PER_BOOK_MAX)]

    def definition(self) -> BookDefinition:
        """The book this file describes, as the services take it."""
        return BookDefinition(
            code=self.book.code,
            currency=self.book.currency,
            timezone=self.book.timezone,
            payout_minimum_minor=self.book.payout_minimum_minor,
            withholding=self.book.withholding,
            fee_rate=self.split.fee_rate,
            upline_rate=self.split.upline_rate,
            split_policy=self.split.policy,
            rules=tuple(self.rules_payload()),
        )

    def rules_payload(self) -> list[dict[str, Any]]:
        """The rules as JSON-able specs, in file order, rates and times as strings."""
        return [rule.model_dump(mode="json", exclude_none=True) for rule in self.rules]

    def rules_digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the rules and the split.

        Equal digests mean a re-apply changes nothing; rates are compared as written.
        """
        split = self.split.model_dump(mode="json")
        return sha256_of({"rules": self.rules_payload(), "split": split}).hex()


def parse_book_file(text: str) -> BookFile:
    """Parse and validate the TOML text of a book file, or raise :class:`BookFileError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BookFileError(f"not valid TOML: {exc}") from None
    try:
        return BookFile.model_validate(data)
    except CpsLedgerError as exc:
        # The typed error already names the field; a book file reports it as one error type.
        raise BookFileError(exc.message, field=exc.values.get("field")) from None


def load_book_file(path: Path) -> BookFile:
    """Read and validate the book file at ``path``, or raise :class:`BookFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BookFileError(f"cannot read {path}: {exc}") from None
    return parse_book_file(text)
