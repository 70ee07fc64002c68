"""Each stage's library deps in dvc.yaml are exactly what its script imports from `nmt/`,
directly or through other `nmt` modules: otherwise a code change could leave the committed
metrics stale while `dvc status` says all is up to date.

The one exception is nmt/config.py (params validation and defaults): every value it hands a
stage comes from params.yaml, which DVC tracks key by key, so editing it (say, to add a param)
need not rerun the pipeline. That holds only while params.yaml spells out every param, so that
no default of config.py reaches a run: the last test checks that. For the same reason what
config.py imports is not followed (nmt/limits.py gives it the eval defaults; the stages that
decode import it themselves).
"""

import ast
import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "nmt"
NOT_DEPS = {"nmt/config.py"}  # see the module docstring


def module_file(name: str) -> Path | None:
    """nmt.x.y -> nmt/x/y.py (or its package's __init__.py); None outside this package."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports (at the top or inside functions), as dotted names; for
    `from nmt import x`, both `nmt` and `nmt.x` (x may be a module or a name in nmt)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    # importing nmt.x.y runs nmt/__init__.py and nmt/x/__init__.py first
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, len(n.split(".")) + 1)}


def library_closure(script: Path) -> set[str]:
    """The files of `nmt/` that running `script` can import, transitively (not through NOT_DEPS)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for name in imported_modules(todo.pop()):
            f = module_file(name)
            if f is not None and f not in seen:
                seen.add(f)
                if f.relative_to(ROOT).as_posix() not in NOT_DEPS:
                    todo.append(f)
    return {f.relative_to(ROOT).as_posix() for f in seen} - NOT_DEPS


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def listed_library_deps(stage: dict) -> set[str]:
    return {d for d in stage["deps"] if d.startswith(f"{PACKAGE}/")}


def test_every_stage_script_is_a_stage_and_every_stage_runs_its_script():
    scripts = {p.stem for p in (ROOT / "stages").glob("*.py")}
    assert set(STAGES) == scripts
    for name, stage in STAGES.items():
        assert stage["cmd"] == f"python stages/{name}.py"
        assert f"stages/{name}.py" in stage["deps"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stages_library_deps_are_exactly_what_its_script_imports(name):
    want = library_closure(ROOT / "stages" / f"{name}.py")
    got = listed_library_deps(STAGES[name])
    assert got == want, f"dvc.yaml stage {name!r}: add {sorted(want - got) or 'nothing'}, remove {sorted(got - want) or 'nothing'}"


def test_the_closure_follows_imports_through_other_modules():
    # stages/evaluate.py imports nmt.translate, which imports nmt.bundle, which imports nmt.vocab
    closure = library_closure(ROOT / "stages" / "evaluate.py")
    assert {"nmt/translate.py", "nmt/bundle.py", "nmt/vocab.py", "nmt/__init__.py"} <= closure


def leaf_keys(cls, prefix: str = "") -> set[str]:
    hints = typing.get_type_hints(cls)
    keys = set()
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys |= leaf_keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            keys.add(f"{prefix}{f.name}")
    return keys


def test_params_yaml_spells_out_every_param_so_config_defaults_never_reach_a_run():
    from nmt.config import Params

    def flatten(d, prefix=""):
        return {k2 for k, v in d.items() for k2 in (flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"})}

    assert flatten(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))) == leaf_keys(Params)
