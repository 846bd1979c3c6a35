"""The status columns accept exactly the states of shared/credential_status.py."""

from __future__ import annotations

import re

import pytest

from shared.credential_status import STATUSES

STATUS_COLUMNS = ["issuance.credentials", "revocation.credentials"]


@pytest.mark.parametrize("table", STATUS_COLUMNS)
async def test_the_status_check_holds_the_modules_states(db, table):
    definition = await db.fetchval(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
        " WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND a.attname = 'status'", table)
    assert definition is not None, f"{table}.status has no CHECK constraint"
    assert set(re.findall(r"'([a-z_]+)'::text", definition)) == set(STATUSES)
