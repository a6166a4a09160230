"""docs/architecture.md names only what exists: every path, module, function and class.

The map of the house is read by people who then open the files it names; a name that
was renamed or never existed (an ``_encode`` nobody wrote) sends them nowhere.
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
#: The project's own top-level packages and modules, as a dotted name starts.
PROJECT = ("kitteh", "models", "handlers", "views", "ops", "localcloud", "app", "cli", "scripts")
SOURCES = ("app.py", "cli.py", "kitteh", "models", "handlers", "views", "ops", "localcloud")
#: `…` spans: code the doc quotes.
_CODE = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^[\w.-]+(/[\w.*-]*)+$|^[\w-]+\.(py|md|sh|json|toml|ini|html|js|css|txt|in)$")
_DOTTED = re.compile(rf"^(?:{'|'.join(PROJECT)})(?:\.\w+)+$")
_CALL = re.compile(r"^([A-Za-z_][\w.]*)\(.*\)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
#: Names of other projects' code that the doc compares Kitteh with: Powertools' API and
#: the log fields it writes (which kitteh/logs.py writes as strings), an AWS setting.
ELSEWHERE = frozenset(
    {
        "BatchProcessor",
        "Logger",
        "aws_lambda_powertools",
        "append_keys",
        "copy_config_to_registered_loggers",
        "function_request_id",
        "cold_start",
        "function_memory_size",
        "ReportBatchItemFailures",
    }
)


def _quoted() -> list[str]:
    return _CODE.findall(DOC.read_text())


@cache
def _known_names() -> frozenset[str]:
    """Every name the project defines or imports (module level, classes, functions)."""
    names: set[str] = set()
    files = [ROOT / s for s in SOURCES if s.endswith(".py")]
    files += [p for s in SOURCES if not s.endswith(".py") for p in (ROOT / s).rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
                if isinstance(node, ast.ImportFrom) and node.module:
                    names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return frozenset(names)


def _resolves(dotted: str) -> bool:
    """``kitteh.db.transaction``: a module, then attributes of it."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_every_path_it_names_exists() -> None:
    paths = {q.split(":")[0] for q in _quoted() if _PATH.match(q.split(":")[0]) and "<" not in q}
    missing = sorted(p for p in paths if not list(ROOT.glob(p.rstrip("/"))))
    assert missing == []


def test_every_module_and_name_in_a_module_it_names_exists() -> None:
    dotted = {q for q in _quoted() if _DOTTED.match(q) and not _PATH.match(q)}
    dotted |= {m[1] for q in _quoted() if (m := _CALL.match(q)) and _DOTTED.match(m[1])}
    assert dotted, "the doc names no module: is this test reading the right file?"
    assert sorted(d for d in dotted if not _resolves(d)) == []


def test_every_function_and_class_it_names_exists() -> None:
    named = {m[1] for q in _quoted() if (m := _CALL.match(q)) and "." not in m[1]}
    named |= {q for q in _quoted() if _IDENTIFIER.match(q) and ("_" in q or q[0].isupper())}
    unknown = sorted(n for n in named - ELSEWHERE if n not in _known_names() and not n.isupper())
    assert unknown == []


def test_the_line_counts_it_gives_are_true() -> None:
    claims = re.findall(r"`([\w/]+\.py)`[^.`]{0,60}?\b(\d+)\s+lines", DOC.read_text())
    wrong = {
        path: (int(lines), len((ROOT / path).read_text().splitlines()))
        for path, lines in claims
        if len((ROOT / path).read_text().splitlines()) != int(lines)
    }
    assert wrong == {}
