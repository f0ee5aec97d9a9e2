"""The README's Python examples run as written, and its commands are where CI looks for them."""
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    namespace = {}
    for block in blocks:                       # later examples use names from earlier ones
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["w"].grad.shape == (3, 2)


def test_quick_start_has_the_two_commands_ci_reads():
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        after = README.split(marker, 1)[1].lstrip().splitlines()
        assert after[0] == "```bash" and after[1].startswith("python3 -m venv .venv && ")
