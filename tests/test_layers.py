"""The import rules of the layout table in ARCHITECTURE.md, checked on the source with `ast`.

Every `import`/`from … import` counts, also those inside functions (the CLI's lazy imports) and
under `TYPE_CHECKING`: a layer that knows a module above it is tangled even if it only names a
type. `seamline.errors` is the one shared base (the stable error codes every layer raises), so
it is allowed everywhere.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "seamline"

# Shared by every layer; imports nothing of ours itself (checked below).
BASE = frozenset({"seamline.errors"})

# Where a package may reach, besides itself and BASE. Only rules that hold today are listed;
# add a package here when its imports are brought in line with the table.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "seamline.spec": frozenset(),
    "seamline.log": frozenset({"seamline.spec"}),
    # Positions (log.base) key every store's rows; that module is pure and imports only spec.
    "seamline.store": frozenset({"seamline.spec", "seamline.log.base"}),
}

# Imports in store/ that break its rule today: store reads and writes the domain's records, whose
# types still live in the domain packages. Moving each type down into store/ removes its line
# here; a line that no longer matches an import fails the test, so this list only shrinks.
STORE_DEBTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("seamline.store.accounts_sql", "seamline.profiles.accounts"),
        ("seamline.store.consent_sql", "seamline.privacy.consent"),
        ("seamline.store.identity_sql", "seamline.identity.identifiers"),
        ("seamline.store.identity_sql", "seamline.identity.resolve"),
        ("seamline.store.identity_sql", "seamline.identity.rules"),
        ("seamline.store.inventory_sql", "seamline.privacy.inventory"),
        ("seamline.store.inventory_sql", "seamline.privacy.pii"),
        ("seamline.store.protocols_sql", "seamline.protocols.records"),
        ("seamline.store.sources_sql", "seamline.collect.sources"),
        ("seamline.store.tokens_sql", "seamline.access.principal"),  # a token's grants
        ("seamline.store.tokens_sql", "seamline.access.tokens"),
        ("seamline.store.traits_sql", "seamline.profiles.traits"),
    }
)

CLI = "seamline.cli"
# The entry points run the command line; nothing else may import it.
MAY_IMPORT_CLI = frozenset({"seamline.__main__"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The `seamline…` modules a source file imports (a `from X import y` counts as X.y when y
    is a module, else as X)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (SRC / candidate.replace(".", "/")).is_dir() or (
                    SRC / (candidate.replace(".", "/") + ".py")
                ).is_file()
                found.add(candidate if is_module else base)
    return {m for m in found if m == "seamline" or m.startswith("seamline.")}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@functools.cache
def modules() -> dict[str, set[str]]:
    """Each module of the package and what it imports: parsed once, when a test first asks
    (not at import, which every pytest-xdist worker does while collecting)."""
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_walk_sees_the_layers() -> None:
    # Guards against a test that passes because it looked at nothing.
    imports = modules()
    assert "seamline.store.state" in imports
    assert "seamline.cli" in imports
    assert "seamline.store.state" in imports["seamline.store.resources_sql"]
    assert imports["seamline.__main__"] == {"seamline.cli"}


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_a_layer_imports_only_what_the_table_allows(layer: str) -> None:
    imports = modules()
    allowed = MAY_IMPORT[layer]
    broken = [
        f"{module} imports {target} ({layer} may import only "
        f"{', '.join(sorted(allowed | BASE)) or 'nothing of ours'})"
        for module, targets in sorted(imports.items())
        if within(module, layer)
        for target in sorted(targets)
        if not within(target, layer)
        and target not in BASE
        and not any(within(target, a) for a in allowed)
        and (module, target) not in STORE_DEBTS
    ]
    assert not broken, "\n".join(broken)


def test_the_store_debts_are_still_real() -> None:
    imports = modules()
    paid = sorted(f"{m} -> {t}" for m, t in STORE_DEBTS if t not in imports.get(m, set()))
    assert not paid, "no longer imported; remove from STORE_DEBTS:\n" + "\n".join(paid)


def test_the_base_imports_nothing_of_ours() -> None:
    imports = modules()
    broken = [f"{m} imports {t}" for m in sorted(BASE) for t in sorted(imports[m])]
    assert not broken, "\n".join(broken)


def test_only_the_entry_points_import_the_cli() -> None:
    imports = modules()
    broken = [
        f"{module} imports {target} (only cli/ and {', '.join(sorted(MAY_IMPORT_CLI))} may)"
        for module, targets in sorted(imports.items())
        if not within(module, CLI) and module not in MAY_IMPORT_CLI
        for target in sorted(targets)
        if within(target, CLI)
    ]
    assert not broken, "\n".join(broken)
