"""The architecture as the imports show it: each package imports only the packages before
it in the flow (config's kinds, then where checks run, then the store, the alerts and stats
that read it, the engine that joins them, the rendering, and the command line), and no
module imports itself back through others. Lazy imports inside functions count too."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "monitor"
# Earlier layers never import later ones. Within a layer, packages do not import each other
# unless listed together in one string (one package).
LAYERS = [
    ["monitor", "monitor.core"],  # the model, fields, windows, times, secrets, errors
    ["monitor.logs", "monitor.metrics"],  # access logs; metric series' paths and queries
    ["monitor.checks"],  # kinds: the registry, the watchdog, each kind's keys and check
    ["monitor.config"],  # the file: monitors of registered kinds
    ["monitor.run"],  # scheduling, probe processes, the canary: where checks run
    ["monitor.store"],  # results and alerts written; every query
    ["monitor.alerts", "monitor.stats", "monitor.maintenance"],  # alert rules, stats, maintenance
    ["monitor.engine"],  # run -> store -> alerts, joined
    ["monitor.notify"],  # what goes out while the engine runs: the heartbeat, the senders
    ["monitor.runtime"],  # the running monitor: engine, senders, heartbeat, reload, purge
    ["monitor.render"],  # tables, the live view
    # Beside each other, neither importing the other: they speak HTTP.
    ["monitor.web", "monitor.agent"],  # the web server; the agent, its client: over the runtime
    ["monitor.cli"],  # the only place that prints errors and exits
]


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            base = node.module
            if node.level:
                base = ".".join(name.split(".")[:-node.level] + [node.module])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "monitor" or m.startswith("monitor.")}


def layer_of(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"{package} is in no layer: add it to LAYERS")


def test_every_package_imports_only_earlier_layers():
    known = modules()
    wrong = []
    for name, path in sorted(known.items()):
        mine = package_of(name)
        for target in imports(path, name):
            if target not in known:
                continue  # a name imported from a module, not a module
            theirs = package_of(target)
            if theirs == mine or target == "monitor":
                continue
            if layer_of(theirs) >= layer_of(mine):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_no_import_cycles_between_modules():
    known = modules()
    graph = {name: {t for t in imports(path, name) if t in known and t != name}
             for name, path in known.items()}
    # A package's __init__ importing its own submodules is how a package is built, not a
    # cycle; a submodule importing its package's __init__ back is.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


# Where names are imported from: the program, its tests and benches, the docs generator.
IMPORTERS = [ROOT, ROOT.parent / "tests", ROOT.parent / "bench", ROOT.parent / "docs" / "gen.py",
             ROOT.parent / "monitoringApp.py"]


def defined_names(tree: ast.Module) -> set[str]:
    """The names a module defines at its top level (not those it imports)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t)
                             if isinstance(n, ast.Name))
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.For):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names


def test_every_name_is_imported_from_the_module_that_defines_it():
    # A module re-exporting another's names (a package's __init__ importing them, listed in
    # its __all__) is a second name for one thing: each name has one home.
    known = modules()
    defined = {name: defined_names(ast.parse(path.read_text())) for name, path in known.items()}
    wrong = []
    for place in IMPORTERS:
        for path in sorted(place.rglob("*.py")) if place.is_dir() else [place]:
            tree = ast.parse(path.read_text())
            where = path.relative_to(ROOT.parent)
            for node in ast.walk(tree):
                if (isinstance(node, ast.ImportFrom) and not node.level
                        and node.module in defined):
                    wrong += [f"{where}:{node.lineno}: {alias.name} from {node.module}"
                              for alias in node.names
                              if alias.name not in defined[node.module]
                              and f"{node.module}.{alias.name}" not in known]
            if place == ROOT:
                exported = next((node.value for node in tree.body
                                 if isinstance(node, ast.Assign)
                                 and any(getattr(t, "id", "") == "__all__"
                                         for t in node.targets)), None)
                mine = defined_names(tree)
                wrong += [f"{where}: __all__ lists {item.value}, defined elsewhere"
                          for item in getattr(exported, "elts", [])
                          if isinstance(item, ast.Constant) and item.value not in mine]
    assert not wrong, "names imported from a module that does not define them:\n" + "\n".join(
        wrong)
