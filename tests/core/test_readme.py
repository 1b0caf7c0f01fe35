"""The README's two commands are the ones that CI and users run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bash_blocks(text):
    blocks, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if inside:
            blocks.append(line.strip())
    return blocks


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = _bash_blocks(readme)
    install_and_run, install_and_test = commands[0], commands[1]
    assert install_and_run.endswith("lmbench run")
    assert "pytest" in install_and_test
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install_and_test in ci_lines
