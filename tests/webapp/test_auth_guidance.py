"""A 401 says how to get a key: the CLI command that makes one, and where the deployment guide reads
the initial key. Both must exist as the message names them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from healthmon.cli import build_parser
from webapp.auth import HOW_TO_GET_A_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("authorization", [None, "Bearer hmw_" + "A" * 43, "Bearer not-a-key"])
def test_a_401_names_the_command_and_the_guide_section(anon, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    resp = anon.client.get("/monitors", headers=headers)
    assert resp.status_code == 401
    message = resp.get_json()["message"]
    assert message.endswith(HOW_TO_GET_A_KEY)
    assert "healthmon api-key create --name NAME" in message and "docs/DEPLOYMENT.md" in message


def test_the_command_in_the_message_is_a_real_one():
    command = re.search(r"`healthmon ([^`]+)`", HOW_TO_GET_A_KEY).group(1).split()
    args = build_parser().parse_args(command)
    assert (args.command, args.key_command, args.name) == ("api-key", "create", "NAME")



def test_the_guide_section_the_message_names_exists():
    path, section = re.search(r"see (docs/\S+\.md), '([^']+)'", HOW_TO_GET_A_KEY).groups()
    headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(), flags=re.MULTILINE)
    assert any(section in heading for heading in headings), headings
