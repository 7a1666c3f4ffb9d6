"""The package's layers: every import of a poseshift module, at the top of a file or inside a
function, goes to its own layer or one below, and the modules import each other in no cycle.

Layers, lowest first (a subpackage counts as one module):

0. what everything uses: the config, devices, optional extras, file writes and weights files,
   the pose schema and its files, images, letterboxing, contact sheets, the image buffer;
1. what reads the world or draws it: synthetic people, stick figures, motions, detection,
   faces, video, person masks, dataset layouts and loading, the warp, the losses, checkpoints and the
   packaged models' registry;
2. metrics (their own feature networks included: they judge G, they are not part of it);
3. the networks of the paper (G, D, Phi, Psi);
4. what puts networks to work: eq. (8) (objective), loading a checkpoint's generator, a photo's
   inputs for rendering;
5. the jobs: training, adaptation, evaluation, transfer, ONNX export, animation, preparation,
   the demo, plots;
6. the interfaces: the web server and the command line.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "poseshift"

LAYERS = [
    {"config", "config_rules", "devices", "extras", "files", "weights", "pose", "images", "letterbox", "sheets",
     "pool", "bicubic"},
    {"synth", "stick_figures", "motions", "detect", "faces", "video", "silhouette", "layouts", "data", "warp", "losses",
     "checkpoint", "packaged"},
    {"metrics"},
    {"nets"},
    {"objective", "loading", "scenes"},
    {"training", "adapt", "evaluate", "evaluation_run", "transfer", "transfer_folder", "onnx_export", "onnx_sidecar",
     "onnx_photo", "animate", "pair_renders", "prepare", "demo", "plot"},
    {"serve", "cli_files", "cli_video", "cli_parser", "cli", "__main__"},
]


def _layer(module: str) -> int:
    for i, names in enumerate(LAYERS):
        if module in names:
            return i
    raise AssertionError(f"poseshift.{module} is in no layer: add it to tests/test_layers.py's LAYERS")


def _imports() -> dict[str, set[str]]:
    """top-level module -> the top-level poseshift modules it imports (itself excluded)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        if rel == ("__init__",):
            continue  # the package's own face: it may re-export anything
        top = rel[0]
        pkg = rel[:-1] if rel[-1] != "__init__" else rel[:-1]
        targets = graph.setdefault(top, set())
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only: no import at run time
                continue
            names = []
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the file's package
                    base = list(pkg[: len(pkg) - node.level + 1])
                    names = [".".join(["poseshift", *base, *(node.module.split(".") if node.module else [])])]
                elif node.module:
                    names = [node.module]
                    if node.module == "poseshift":  # the package's modules, not its attributes
                        names = [f"poseshift.{a.name}" for a in node.names
                                 if (PACKAGE / f"{a.name}.py").exists() or (PACKAGE / a.name).is_dir()]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "poseshift" and len(parts) > 1 and parts[1] != top:
                    targets.add(parts[1])
    return graph


def test_every_module_imports_only_its_own_layer_or_below():
    graph = _imports()
    upward = [f"poseshift.{a} (layer {_layer(a)}) imports poseshift.{b} (layer {_layer(b)})"
              for a, targets in sorted(graph.items()) for b in sorted(targets) if _layer(b) > _layer(a)]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    graph = _imports()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_the_walk_sees_function_level_and_relative_imports():
    """The checker itself: a lazy import inside a function and a relative import both count."""
    graph = _imports()
    assert "nets" in graph["transfer"] or "nets" in graph.get("scenes", set())  # lazy imports inside functions
    assert "pose" in graph["warp"]  # warp/__init__.py: from poseshift.pose.schema import ...


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these by what they hold: {long}"
