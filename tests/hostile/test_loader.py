"""What loading a script reads and runs: never more of a file than a script may hold, and
nothing of the script itself, not even an escape the first parser cannot read."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from jshost.cli import cli


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_run_reads_no_more_of_a_file_than_the_size_limit(device):
    result = CliRunner().invoke(cli, ["run", device, "--yes"])
    assert result.exit_code == 2
    assert "Script exceeds 524288 bytes" in result.stderr
