"""The README stays true: its configuration table names every variable Settings reads, its links
resolve, and its two commands are the Makefile's."""

import re
from pathlib import Path

from tests.support.settings_env import variables_read_by_settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme_configuration_table():
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    missing = variables_read_by_settings() - table - {"AWS_DEFAULT_REGION"}
    assert not missing, f"add to README's configuration table: {sorted(missing)}"
    assert {"DATABASE_URL", "SQS_QUEUE_URL", "FAIL_THRESHOLD", "MIN_CHECK_INTERVAL"} <= table


def test_every_relative_link_in_the_readme_and_docs_exists():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_the_quick_start_commands_are_make_targets_that_run_up_and_the_tests():
    assert "make run " in README and "make test " in README
    makefile = (ROOT / "Makefile").read_text()
    run = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE).group(1)
    test = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE).group(1)
    assert "healthmon up" in run
    assert "pytest" in test and "ruff check" in test
    assert "make test" in (ROOT / ".ci" / "run").read_text()
