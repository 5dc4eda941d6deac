"""The shape of docs/architecture.md holds: no import cycle, nothing below the shells prints, the criterion takes
a new term as one more entry, iterate() can be left at any step, and the documented flags are the real ones."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylegram import Options, StyleTransfer
from stylegram.cli import build_parser
from stylegram.cli.batch import build_parser as batch_parser
from stylegram.cli.flags import TABLE_END, TABLE_START, options_table
from stylegram.cli.serve import serve_parser
from stylegram.cli.video import build_parser as video_parser
from stylegram.losses import TVTerm

from .conftest import ROOT, make_painting, make_photo

PACKAGE = ROOT / "src" / "stylegram"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The stylegram modules that `path` imports (relative imports resolved; `from . import x` -> package.x)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("stylegram") and m != name}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports as [a, b, ..., a], or None."""
    edges = graph
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> list[str] | None:
        for d in sorted(edges.get(m, ())):
            if d in path:
                return path[path.index(d):] + [d]
            if d not in done:
                cycle = visit(d, [*path, d])
                if cycle:
                    return cycle
        done.add(m)
        return None

    for m in sorted(edges):
        if m not in done:
            cycle = visit(m, [m])
            if cycle:
                return cycle
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    assert "stylegram.cli.flags" in graph["stylegram.cli.run"] and "stylegram.transfer" in graph["stylegram.job"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"p": {"p.x"}, "p.x": {"q"}, "q": set()}) is None  # a package importing its submodule
    assert find_cycle({"p.x": {"p"}, "p": {"p.y"}, "p.y": {"p.x"}}) is not None


SHELLS, FEATURES = ("cli", "web"), ("video", "batch", "paper")


def _layer(module: str) -> str:
    """shell, feature (with its package) or engine: the layers of docs/architecture.md."""
    part = module.split(".")[1] if "." in module else ""
    return "shell" if part in SHELLS or part == "__main__" else f"feature {part}" if part in FEATURES else "engine"


def test_the_engine_imports_no_feature_or_shell_and_features_no_shell_or_other_feature() -> None:
    for module, imports in _graph().items():
        layer = _layer(module)
        for dep in imports:
            dep_layer = _layer(dep)
            if layer == "engine":
                assert dep_layer == "engine", f"{module} (engine) imports {dep} ({dep_layer})"
            elif layer.startswith("feature"):
                assert dep_layer in ("engine", layer), f"{module} ({layer}) imports {dep} ({dep_layer})"


def test_no_module_touches_another_objects_private_names() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                assert isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"), \
                    f"{path.name}:{node.lineno} reads {ast.unparse(node)}"
            if isinstance(node, ast.ImportFrom) and node.module and "stylegram" in (node.module or "") or \
                    isinstance(node, ast.ImportFrom) and node.level:
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                assert not private, f"{path.name}:{node.lineno} imports {private}"


def test_functions_and_classes_stay_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, f"{path.name} is over 400 lines"
        for node in ast.walk(ast.parse(path.read_text())):
            size = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert size <= 60, f"{path.name}: {node.name} is {size} lines (at most 60)"
            if isinstance(node, ast.ClassDef):
                assert size <= 200, f"{path.name}: class {node.name} is {size} lines (at most 200)"


def test_parsing_options_loads_no_torch() -> None:
    code = ("import sys; import stylegram.options as o; o.parse_fields({'size': '64', 'init': 'noise'}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PIL', 'numpy')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_nothing_below_the_shells_prints() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        imports = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imports += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert "print" not in calls, path
        assert not any(m.split(".")[0] == "tqdm" for m in imports), path


def test_a_new_term_is_one_more_entry() -> None:
    opts = Options(size=32, scales=1, precision="fp32", init="content")
    t = StyleTransfer(make_photo(), make_painting(), opts)
    x = t.initial_image()
    base_loss, base = t.losses(x)

    class Brightness:  # a term the engine has never seen: mean of x, as a sum and a count over the piece's core
        name = "brightness"
        layers = ()

        def statistics(self, features, x, piece):
            core = piece.core_of_window(x)
            return {"sum": core.sum(), "n": core.numel()}

        def score(self, s):
            return s["sum"] / s["n"]

    t = StyleTransfer(make_photo(), make_painting(), opts, terms=[(Brightness(), 3.0), (TVTerm(), 2.0)])
    loss, parts = t.losses(x)
    assert parts.extra["brightness"] == pytest.approx(float(x.mean()))
    assert float(loss) == pytest.approx(float(base_loss) + 3.0 * float(x.mean()) + 2.0 * parts.tv, rel=1e-6)
    assert parts.as_dict()["brightness"] == parts.extra["brightness"] and parts.content == base.content
    assert parts.tv > 0


def test_iterate_can_be_left_at_any_step() -> None:
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=2, iterations=4, tol=0.0))
    seen = []
    for it in t.iterate():
        seen.append((it.iteration, it.scale, it.x.clone()))
        if it.iteration == 6:
            break
    assert [s[:2] for s in seen] == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1)]
    assert (t.progress.scale, t.progress.iteration) == (1, 2)
    assert torch.equal(t.progress.x, seen[-1][2])  # the last iterate seen is the one kept


def _flags_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", text))


def test_docs_name_only_real_flags_and_the_options_table_is_generated() -> None:
    parser = build_parser()
    real = {s for a in parser._actions for s in a.option_strings}
    # the subcommands' own: reproduce's, --resume
    real |= {"--out", "--content", "--styles", "--resume"}
    real |= {s for a in batch_parser()._actions for s in a.option_strings}
    real |= {s for a in video_parser()._actions for s in a.option_strings}
    real |= {s for a in serve_parser()._actions for s in a.option_strings}
    real |= {"--head", "--address"}  # `ray start`'s, in the cluster recipe
    for script in (ROOT / "benchmarks").glob("*.py"):  # the benchmarks' own, in their commands in docs/
        real |= set(re.findall(r"add_argument\(\s*\"(--[a-z][a-z0-9-]+)\"", script.read_text()))
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        unknown = _flags_in(doc.read_text()) - real
        assert not unknown, f"{doc.name} names flags that do not exist: {sorted(unknown)}"
    text = (ROOT / "docs" / "options.md").read_text()
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    assert table == options_table(), "docs/options.md is stale: run `make options-doc`"
    help_flags = {s for a in parser._actions for s in a.option_strings if s.startswith("--")}
    assert help_flags - {"--help", "--version", "--original-colors", "--paper", "--quiet", "--output"} <= \
        _flags_in(table)
