"""What a user installing or reusing the project reads: the licence, the changelog, the GPU extra."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_licence_file_is_the_one_pyproject_names():
    assert PROJECT["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text


def test_the_changelog_has_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{PROJECT['version']}]" in changelog and "## [Unreleased]" in changelog


def test_the_gpu_extra_and_its_readme_steps_pin_the_same_tensorflow_as_the_cpu_install():
    cpu = [d for d in PROJECT["dependencies"] if d.startswith("tensorflow-cpu==")]
    version = re.match(r"tensorflow-cpu==([\w.]+)", cpu[0]).group(1)
    assert PROJECT["optional-dependencies"]["gpu"] == [f"tensorflow[and-cuda]=={version}; platform_system == 'Linux' and platform_machine == 'x86_64'"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    steps = readme.split("### On a GPU")[1].split("###")[0]
    assert '-e ".[dev,gpu]"' in steps and "pip uninstall -y tensorflow-cpu" in steps
    assert f"pip install --force-reinstall --no-deps tensorflow=={version}" in steps
