"""Declarative room kinds: a rule in the rooms service's settings instead of a policy
service (`ROOMCAST_ROOM_KINDS`).

    ROOMCAST_ROOM_KINDS='{"staff": {"roleIn": ["admin", "teacher"]},
                          "pro": {"claimEquals": {"plan": "pro"}},
                          "crew": {"memberOf": "team"}}'

Each kind has exactly one rule, for joining and posting alike:

- `roleIn`: the caller's role is one of the list;
- `claimEquals`: each named token claim (forwarded by the gateway's
  `ROOMCAST_POLICY_CLAIMS`) equals the given value;
- `memberOf`: the caller is a member of the primary room of the entity of that type
  and the same id (`crew:7` → the members of `team:7`, kept by the entity lifecycle).

The id of `room:join {kind, data}` is `data.id`. Decisions are not cached (they are
cheap); a rule that needs data of your own belongs in a policy service instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from contracts.policies import PolicyUser

EntityType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class KindRule(BaseModel):
    """The rule of one declared kind: exactly one of `roleIn`, `claimEquals`, `memberOf`."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    role_in: list[str] | None = Field(default=None, description="Roles let in.")
    claim_equals: dict[str, JsonValue] | None = Field(
        default=None, description="Claims and the value each must have."
    )
    member_of: EntityType | None = Field(
        default=None, description="Entity type whose primary room's members are let in."
    )
    description: str | None = Field(default=None, max_length=500, description="What it is.")

    @model_validator(mode="after")
    def _one_rule(self) -> KindRule:
        rules = [self.role_in, self.claim_equals, self.member_of]
        if sum(rule is not None for rule in rules) != 1:
            raise ValueError("give exactly one of roleIn, claimEquals, memberOf")
        return self

    def summary(self) -> str:
        """The rule in a few words, for `roomcast policy list`."""
        if self.role_in is not None:
            return f"role in {', '.join(self.role_in)}"
        if self.claim_equals is not None:
            return ", ".join(f"claim {k} = {v!r}" for k, v in self.claim_equals.items())
        return f"member of the {self.member_of} of the same id"


def decide(rule: KindRule, user: PolicyUser, member: bool) -> tuple[bool, str]:
    """Whether `rule` lets `user` in, and the refusal's reason.

    Args:
        rule: the kind's rule.
        user: the caller, with forwarded claims.
        member: for `memberOf`: whether the caller is a member of the entity's room.
    """
    if rule.role_in is not None:
        return user.role in rule.role_in, "your role may not join rooms of this kind"
    if rule.claim_equals is not None:
        ok = all(_equal(user.claims.get(k), v) for k, v in rule.claim_equals.items())
        return ok, "your token's claims do not let you into rooms of this kind"
    return member, f"only members of the {rule.member_of} may join"


def _equal(have: Any, want: Any) -> bool:
    # JSON has no bool/int distinction problem in Python unless we make one: True == 1
    return type(have) is type(want) and bool(have == want)
