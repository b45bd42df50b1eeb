"""Tests of the shell completion of `bikes`: made from the parser, run in the real shells."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bikes import completions, scripts


def complete_in_bash(script: str, line: list[str]) -> list[str]:
    """Return what bash completes for the words of a command line (the last one is typed)."""
    words = " ".join(f"'{word}'" for word in line)
    program = (
        f"{script}\nCOMP_WORDS=({words}); COMP_CWORD={len(line) - 1}; _bikes\n"
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return sorted(done.stdout.split())


def test_bash_completes_options_choices_and_config_files(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scripts.main(["--completion", "bash"]) == 0
    script = capsys.readouterr().out
    for name in ("training.yaml", "extra.json", "notes.txt"):
        (isolated / name).write_text("")
    (isolated / "confs").mkdir()
    assert complete_in_bash(script, ["bikes", "--sch"]) == ["--schema"]
    assert complete_in_bash(script, ["bikes", "--completion", "f"]) == ["fish"]
    assert complete_in_bash(script, ["bikes", ""]) == ["confs", "extra.json", "training.yaml"]


def test_every_option_of_the_parser_completes_in_every_shell() -> None:
    flags = [
        flag for action in completions.options(scripts.parser) for flag in action.option_strings
    ]
    assert "--completion" in flags and "--extras" in flags
    for shell in ("bash", "zsh", "fish"):
        script = completions.script(scripts.parser, shell)
        long_flags = [flag for flag in flags if flag.startswith("--")]
        assert all(flag in script or f"-l {flag[2:]}" in script for flag in long_flags), shell


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_parse_in_their_shell(shell: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    path = tmp_path / f"bikes.{shell}"
    path.write_text(completions.script(scripts.parser, shell))
    done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
