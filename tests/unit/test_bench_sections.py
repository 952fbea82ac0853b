"""Re-measured benchmark sections replace their own section of BENCHMARKS.md and keep the others."""

from __future__ import annotations

from bench.sections import replace_sections

DOCUMENT = "# Benchmarks\n\nintro\n\n## A (old)\n\nold a\n\n## B\n\nold b\n"


def test_a_section_is_replaced_in_place_and_a_new_one_appended() -> None:
    updated = replace_sections(DOCUMENT, [["## A (new)", "", "new a"], ["## C", "", "c"]])
    assert updated == "# Benchmarks\n\nintro\n\n## A (new)\n\nnew a\n\n## B\n\nold b\n\n## C\n\nc\n"


def test_the_last_section_is_replaced_to_the_end() -> None:
    assert replace_sections(DOCUMENT, [["## B", "", "new b"]]).endswith("## B\n\nnew b\n")


def test_the_benchmark_runs_the_shipped_rate_limit_rules_with_higher_limits() -> None:
    import yaml

    from bench.scanning import BENCH_RATELIMIT_RULES
    from services.gateway.settings import DEFAULT_RATELIMIT_RULES as DEFAULT_RULES

    shipped = yaml.safe_load(DEFAULT_RULES.read_text())["rules"]
    bench = yaml.safe_load(BENCH_RATELIMIT_RULES.read_text())["rules"]
    assert [{**r, "limit": 0} for r in bench] == [{**r, "limit": 0} for r in shipped]
    assert all(b["limit"] >= 1_000_000 for b in bench)
