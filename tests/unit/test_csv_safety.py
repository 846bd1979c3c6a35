"""One defusing function for every CSV people open (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from shared.csv_safety import FORMULA_STARTS, csv_row, defuse_cell, restore_cell


def test_every_formula_start_is_defused_and_plain_text_is_not():
    assert [defuse_cell(start + "cmd") for start in FORMULA_STARTS] == ["'" + s + "cmd" for s in FORMULA_STARTS]
    assert [defuse_cell(v) for v in ("Ada", "", "1-2", "urn:uuid:x")] == ["Ada", "", "1-2", "urn:uuid:x"]
    assert defuse_cell("'=x") == "''=x"


@given(st.text(max_size=30))
def test_restore_gives_back_what_was_defused(value):
    assert restore_cell(defuse_cell(value)) == value
    assert not defuse_cell(value).startswith(FORMULA_STARTS)


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_a_row_reads_back_as_its_defused_cells_even_with_cr_and_lf_inside(cells):
    [read] = list(csv.reader(io.StringIO(csv_row(cells), newline="")))
    assert read == [defuse_cell(c) for c in cells]
