"""The package's layers and the one direction their imports run (README, Development).

core imports no other layer; engine imports core; host imports core and engine; output imports
core; pipeline imports all four; cli imports anything. Only engine/docker.py imports
python_on_whales, only host/cmd.py imports subprocess, only output/ imports rich and only cli/
imports typer. Function-level imports count as much as top-level ones.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "xbuild"
LAYERS = ("core", "engine", "host", "output", "pipeline", "cli")
ALLOWED = {
    "core": {"core"},
    "engine": {"core", "engine"},
    "host": {"core", "engine", "host"},
    "output": {"core", "output"},
    "pipeline": {"core", "engine", "host", "output", "pipeline"},
    "cli": set(LAYERS),
    "": set(LAYERS),  # xbuild/__init__.py and __main__.py
}
ONLY_IN = {  # a third-party or effectful module, and the one place allowed to import it
    "python_on_whales": lambda module: module == "xbuild.engine.docker",
    "subprocess": lambda module: module == "xbuild.host.cmd",
    "rich": lambda module: module.startswith("xbuild.output."),
    "typer": lambda module: module.startswith("xbuild.cli."),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def imported(source: str) -> list[str]:
    """Every module an import statement names, anywhere in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            if node.module == "xbuild":  # `from xbuild import core` names a layer itself
                found += [f"xbuild.{alias.name}" for alias in node.names]
    return found


def violations(module: str, source: str) -> list[str]:
    """Why `module` with this source breaks the layering ([] when it does not)."""
    problems = []
    layer = layer_of(module)
    for name in imported(source):
        top = name.split(".")[0]
        if top in ONLY_IN and not ONLY_IN[top](module):
            problems.append(f"{module} imports {name}")
        if top == "xbuild" and (target := layer_of(name)) and target not in ALLOWED[layer]:
            problems.append(f"{module} ({layer or 'top'}) imports {name} ({target})")
    return problems


def sources() -> list[tuple[str, str]]:
    return [(module_name(p), p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))]


def test_every_module_sits_in_a_layer() -> None:
    loose = [m for m, _ in sources() if not layer_of(m) and m not in ("xbuild", "xbuild.__main__")]
    assert loose == []


def test_imports_run_one_way() -> None:
    problems = [p for module, source in sources() for p in violations(module, source)]
    assert problems == []


@pytest.mark.parametrize(("module", "line", "problem"), [
    pytest.param("xbuild.core.plan", "import python_on_whales",
                 "xbuild.core.plan imports python_on_whales", id="core-imports-the-wrapper"),
    pytest.param("xbuild.core.plan", "from xbuild.engine.docker import Docker",
                 "xbuild.core.plan (core) imports xbuild.engine.docker (engine)",
                 id="core-imports-engine"),
    pytest.param("xbuild.core.plan", "from xbuild import host",
                 "xbuild.core.plan (core) imports xbuild.host (host)", id="core-imports-host"),
    pytest.param("xbuild.engine.runner", "import subprocess",
                 "xbuild.engine.runner imports subprocess", id="subprocess-outside-cmd"),
    pytest.param("xbuild.output.views", "from xbuild.host.qemu import check",
                 "xbuild.output.views (output) imports xbuild.host.qemu (host)",
                 id="output-imports-host"),
    pytest.param("xbuild.host.mmdebstrap", "from xbuild.pipeline.build import build",
                 "xbuild.host.mmdebstrap (host) imports xbuild.pipeline.build (pipeline)",
                 id="host-imports-pipeline"),
    pytest.param("xbuild.engine.runner", "from xbuild.pipeline.tools import Tools",
                 "xbuild.engine.runner (engine) imports xbuild.pipeline.tools (pipeline)",
                 id="engine-imports-pipeline"),
    pytest.param("xbuild.core.plan", "import xbuild.pipeline.build",
                 "xbuild.core.plan (core) imports xbuild.pipeline.build (pipeline)",
                 id="core-imports-pipeline"),
    pytest.param("xbuild.output.views", "from xbuild.pipeline import verify",
                 "xbuild.output.views (output) imports xbuild.pipeline (pipeline)",
                 id="output-imports-pipeline"),
    pytest.param("xbuild.pipeline.build", "import typer",
                 "xbuild.pipeline.build imports typer", id="typer-outside-cli"),
])
def test_the_check_catches_a_wrong_import(module: str, line: str, problem: str) -> None:
    path = PACKAGE / (module.removeprefix("xbuild.").replace(".", "/") + ".py")
    source = path.read_text(encoding="utf-8")
    assert problem not in violations(module, source)
    inside_a_function = f"{source}\n\ndef _late() -> None:\n    {line}\n"
    assert problem in violations(module, inside_a_function)


@pytest.mark.allow_subprocess
@pytest.mark.parametrize("argv", [["plan", "-f", "matrix.yml"], ["--help"], ["--version"],
                                  ["build", "--help"]],
                         ids=["plan", "help", "version", "build-help"])
def test_commands_that_need_no_engine_do_not_load_python_on_whales(argv: list[str]) -> None:
    probe = ("import sys, runpy; sys.argv = ['xbuild', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('xbuild', run_name='__main__')\n"
             "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
             "print('LOADED' if 'python_on_whales' in sys.modules else 'NOT LOADED')")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                          cwd=PACKAGE.parent, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "NOT LOADED"


def test_no_module_name_repeats_across_layers() -> None:
    """The folder says the layer; the file name says the job, so no two layers share one."""
    seen: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(PACKAGE)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}


README = PACKAGE.parent / "README.md"


def readme_tree() -> set[str]:
    """Every `name.py` the README's Development tree names under a layer, as layer/name.py."""
    text = README.read_text(encoding="utf-8")
    tree = text[text.index("```\nxbuild/\n"):]
    named, layer = set(), ""
    for line in tree[: tree.index("\n```", 4)].splitlines():
        if re.match(r"  [a-z]+/", line):
            layer = line.split("/")[0].strip()
        elif line.startswith("    ") and layer:
            named |= {f"{layer}/{name}" for name in re.findall(r"\b[a-z_]+\.py\b", line)}
    return named


def test_the_readme_tree_names_every_module() -> None:
    files = {str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("*/*.py")
             if p.name != "__init__.py"}
    assert readme_tree() == files


MAX_FUNCTION_LINES = 40


def long_functions(module: str, source: str) -> list[str]:
    """Functions (methods and nested ones too) longer than MAX_FUNCTION_LINES, from `def` to
    their last line, docstring included: `module.name (n lines)`."""
    return [f"{module}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_function_is_over_forty_lines() -> None:
    assert [f for module, source in sources() for f in long_functions(module, source)] == []


def test_the_length_check_catches_a_long_function() -> None:
    body = "".join(f"    x{n} = {n}\n" for n in range(39))
    assert long_functions("m", f"def fits():\n{body}") == []
    assert long_functions("m", f"def fits():\n{body}    x = 0\n") == ["m.fits (41 lines)"]


def test_no_test_module_name_repeats_across_tiers() -> None:
    """pytest imports test modules by their base name: two alike in different tiers stop the
    whole run at collection ("import file mismatch")."""
    seen: dict[str, list[str]] = {}
    for path in sorted((PACKAGE.parent / "tests").rglob("test_*.py")):
        seen.setdefault(path.name, []).append(str(path.parent.name))
    assert {name: tiers for name, tiers in seen.items() if len(tiers) > 1} == {}
