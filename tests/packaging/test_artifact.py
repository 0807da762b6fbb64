"""The artifact that deploys is the artifact that is tested: each handler imports from .aws-sam/build
with only its function folder and the layer on sys.path (no site-packages), and ships compiled .pyc."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.artifact import BUILD, LAYER, ROOT, function_dirs, import_in_fresh_interpreter


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _template_functions() -> set[str]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    return {name for name, res in template["Resources"].items() if res["Type"] == "AWS::Serverless::Function"}


def test_build_exists_for_every_function() -> None:
    assert BUILD.exists(), "run `make build` first (make test does)"
    assert {d.name for d in function_dirs()} == _template_functions()


@pytest.mark.parametrize("function_dir", function_dirs() if BUILD.exists() else [], ids=lambda p: p.name)
def test_handler_imports_from_artifact_alone(function_dir: Path) -> None:
    result = import_in_fresh_interpreter(function_dir, "import app; assert callable(app.handler)")
    assert result.returncode == 0, result.stderr


def test_layer_ships_compiled_bytecode() -> None:
    sources = list((LAYER / "qbo_sync").rglob("*.py"))
    assert sources
    missing = [s for s in sources if not list((s.parent / "__pycache__").glob(f"{s.stem}.cpython-313.pyc"))]
    assert missing == []


def test_layer_does_not_ship_test_or_local_code() -> None:
    assert not (LAYER / "local").exists()
    assert not (LAYER / "tests").exists()
