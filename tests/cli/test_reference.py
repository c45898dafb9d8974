"""The README's command list is the one generated from the Typer app."""

from __future__ import annotations

from pathlib import Path

from shopintent.cli.main import SUB_APPS
from shopintent.cli.reference import REFRESH, commands, main, render, replace_block

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_command_list_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_block(text, render()) == text, f"README.md's command list is stale: run `{REFRESH}`"


def test_reference_lists_every_command_the_readme_used_to_miss() -> None:
    usages = [usage for usage, _ in commands()]
    for command in ("shopintent recommend similar", "shopintent recommend export-embeddings",
                    "shopintent recommend segments", "shopintent intent train-defaults",
                    "shopintent behaviour evaluate-all", "shopintent models prepare",
                    "shopintent models status", "shopintent serve", "shopintent serve replay"):
        assert command in usages
    assert "shopintent store ingest EVENTS" in usages
    assert "shopintent datasets verify [NAMES...]" in usages
    assert len(usages) == len(set(usages))
    # Every registered area reaches the list (a lazily loaded sub-app that failed to import would not).
    for area, _ in SUB_APPS:
        assert any(usage.startswith(f"shopintent {area} ") or usage == f"shopintent {area}"
                   for usage in usages), area


def test_check_exits_1_on_a_stale_block_and_write_refreshes_it(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text("# x\n\n<!-- cli:begin -->\n| `shopintent gone` | old |\n<!-- cli:end -->\n\nafter\n")
    assert main(["--check", str(page)]) == 1
    assert main(["--write", str(page)]) == 0
    assert main(["--check", str(page)]) == 0
    text = page.read_text()
    assert "shopintent gone" not in text and "| `shopintent store ingest EVENTS` |" in text
    assert text.startswith("# x\n\n<!-- cli:begin -->\n") and text.endswith("<!-- cli:end -->\n\nafter\n")


def test_a_file_without_markers_exits_2(tmp_path: Path) -> None:
    page = tmp_path / "README.md"
    page.write_text("# no block\n")
    assert main(["--check", str(page)]) == 2
