"""Re-measured benchmark sections replace their own section of BENCHMARKS.md and keep the others."""

from __future__ import annotations

from bench.sections import replace_sections

DOCUMENT = "# Benchmarks\n\nintro\n\n## A (old)\n\nold a\n\n## B\n\nold b\n"


def test_a_section_is_replaced_in_place_and_a_new_one_appended() -> None:
    updated = replace_sections(DOCUMENT, [["## A (new)", "", "new a"], ["## C", "", "c"]])
    assert updated == "# Benchmarks\n\nintro\n\n## A (new)\n\nnew a\n\n## B\n\nold b\n\n## C\n\nc\n"


def test_the_last_section_is_replaced_to_the_end() -> None:
    assert replace_sections(DOCUMENT, [["## B", "", "new b"]]).endswith("## B\n\nnew b\n")
