"""Query parameters several routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from contracts.explicit_rooms import MAX_LIMIT

Cursor = Annotated[
    str | None,
    Query(max_length=64, description="`next` of the previous page; absent for the first."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1..{MAX_LIMIT}.")]
