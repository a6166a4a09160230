"""What build/dev.zip holds: the run-time code and nothing else, built for Lambda's OS."""

from __future__ import annotations

import ast
import csv
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.package.cloud import LOCALSTACK_KEYS
from tests.package.container import LambdaContainer
from tests.package.zappa_config import (
    ROOT,
    RUNTIME_PROVIDED,
    ZAPPA_RUNTIME,
    python_tag,
    runtime,
)
from tests.support.locks import LOCKS, pins

pytestmark = pytest.mark.package

MAX_ZIPPED_BYTES = 25 * 2**20
#: Amazon Linux 2023, under Lambda's python3.12 and later: glibc 2.34, libstdc++ of GCC 11.
MAX_GLIBC = (2, 34)
MAX_GLIBCXX = (3, 4, 29)
#: The decoders that read hostile files, at the releases that fix the advisories known to
#: reach them (requirements.in): a later pin may not slide back below these.
MIN_DECODERS = {"pillow": "13.0", "libheif": "1.23.0", "libde265": "1.1.0"}
NEVER_SHIPPED = (
    "tests/",
    "bench/",
    "docs/",
    "localstack/",
    "localcloud/",
    "ops/",
    "scripts/",
    "instance/",
    ".venv/",
    # import-linter's cache of the import graph, there once make lint has run.
    ".import_linter_cache/",
)
#: What stands in for AWS on a developer's machine; no shipped module may import it.
LOCAL_ONLY = {"localcloud", "moto", "tests", "bench"}
TEST_TOOLS = {"pytest", "moto", "ruff", "mypy", "coverage", "pluggy", "iniconfig"}


def _names(package_zip: Path) -> list[str]:
    with zipfile.ZipFile(package_zip) as archive:
        return archive.namelist()


def _shipped_versions(package_zip: Path) -> dict[str, str]:
    """Each distribution in the zip and its version, from its ``name-version.dist-info``."""
    tops = {name.split("/", 1)[0] for name in _names(package_zip)}
    infos = (top.removesuffix(".dist-info") for top in tops if top.endswith(".dist-info"))
    return {canonicalize_name(name): version for name, version in (i.rsplit("-", 1) for i in infos)}


def _shipped_distributions(package_zip: Path) -> set[str]:
    return set(_shipped_versions(package_zip))


def test_package_is_under_25_mb(package_zip: Path) -> None:
    assert package_zip.stat().st_size < MAX_ZIPPED_BYTES


def test_package_holds_the_run_time_lock_less_what_lambda_has(package_zip: Path) -> None:
    # The lock is the whole closure (transitive packages included): the zip holds exactly it,
    # less the runtime's boto3, plus Zappa's handler.
    lock = ROOT / os.environ.get("KITTEH_REQUIREMENTS", "requirements.txt")
    expected = (set(pins(lock)) - set(RUNTIME_PROVIDED)) | ZAPPA_RUNTIME
    assert _shipped_distributions(package_zip) == expected


def test_every_distribution_in_the_zip_is_the_locked_release(package_zip: Path) -> None:
    locked = {**pins(LOCKS["zappa"]), **pins(LOCKS["runtime"])}
    shipped = _shipped_versions(package_zip)
    assert {name: (version, locked.get(name)) for name, version in shipped.items()} == {
        name: (version, version) for name, version in shipped.items()
    }


def test_no_tests_tools_caches_or_secrets(package_zip: Path) -> None:
    names = _names(package_zip)
    assert not [n for n in names if n.startswith(NEVER_SHIPPED)]
    assert not [n for n in names if n.endswith(".pyc") and "/__pycache__/" not in f"/{n}"]
    assert not [n for n in names if n.split("/", 1)[0] in {"boto3", "botocore", "pip"}]
    assert not _shipped_distributions(package_zip) & TEST_TOOLS
    assert not {"zappa_settings.json", "requirements.txt", "requirements-dev.txt"} & set(names)
    assert not [n for n in names if n.split("/")[-1].startswith(".env")]
    for module in ("app.py", "handler.py", "zappa_settings.py", "kitteh/config.py"):
        assert module in names


def _project_modules(archive: zipfile.ZipFile) -> list[str]:
    """The zip's Python files that no installed distribution's RECORD claims: ours and Zappa's."""
    owned = {
        row[0]
        for name in archive.namelist()
        if name.endswith(".dist-info/RECORD")
        for row in csv.reader(io.TextIOWrapper(archive.open(name), "utf-8"))
    }
    return [n for n in archive.namelist() if n.endswith(".py") and n not in owned]


def _imported_tops(source: bytes) -> set[str]:
    tops = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            tops.add(node.module.split(".")[0])
    return tops


def test_the_local_cloud_never_ships(package_zip: Path) -> None:
    # GIVEN the package's own modules (the project's and Zappa's handler)
    with zipfile.ZipFile(package_zip) as archive:
        modules = _project_modules(archive)
        imports = {name: _imported_tops(archive.read(name)) for name in modules}

    # THEN the local cloud is not in it, and nothing in it imports moto or the local cloud
    assert "app.py" in modules and "kitteh/processing.py" in modules and "handler.py" in modules
    assert not [name for name in modules if name.startswith("localcloud/")]
    assert {name: tops & LOCAL_ONLY for name, tops in imports.items() if tops & LOCAL_ONLY} == {}


def _max_version(data: bytes, symbol: bytes) -> tuple[int, ...]:
    found = re.findall(symbol + rb"_(\d+(?:\.\d+)+)", data)
    return max((tuple(int(part) for part in v.split(b".")) for v in found), default=())


def test_native_code_runs_on_amazon_linux_2023(task_root: Path) -> None:
    # Each ELF file names the symbol versions it needs; the newest must exist there.
    too_new = {}
    for path in task_root.rglob("*"):
        data = path.read_bytes() if path.is_file() else b""
        if data.startswith(b"\x7fELF"):
            glibc, glibcxx = _max_version(data, b"GLIBC"), _max_version(data, b"GLIBCXX")
            if glibc > MAX_GLIBC or glibcxx > MAX_GLIBCXX:
                too_new[str(path.relative_to(task_root))] = (glibc, glibcxx)
    assert too_new == {}


def test_wheels_are_for_the_lambda_runtime_on_x86_64(task_root: Path) -> None:
    tag = python_tag()
    compatible = re.compile(
        rf"(py3-none|{tag}-{tag}|cp3\d+-abi3)-(any|manylinux(2014|_2_(\d+))_x86_64)$"
    )
    for wheel in task_root.glob("*.dist-info/WHEEL"):
        tags = [
            line.split(":", 1)[1].strip()
            for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")
        ]
        matches = [compatible.match(wheel_tag) for wheel_tag in tags]
        assert any(m and (not m.group(4) or int(m.group(4)) <= MAX_GLIBC[1]) for m in matches), (
            wheel.parent.name,
            tags,
        )


def _packaged_settings(task_root: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec((task_root / "zappa_settings.py").read_text(), namespace)  # Zappa's own output
    return namespace


def test_packaged_settings_route_and_log_as_configured(
    task_root: Path, dev_config: dict[str, Any]
) -> None:
    packaged = _packaged_settings(task_root)
    assert (packaged["APP_MODULE"], packaged["APP_FUNCTION"]) == ("app", "app")
    assert packaged["LOG_LEVEL"] == "INFO"
    assert packaged["DEBUG"] is False
    assert packaged["BINARY_SUPPORT"] is True
    assert packaged["REMOTE_ENV"] == dev_config["remote_env"]
    # Settings live on the function (aws_environment_variables), not in the zip.
    assert packaged["ENVIRONMENT_VARIABLES"] == {"AWS_REGION": dev_config["aws_region"]}
    # S3 events route by the notification's configurationId (ops.wiring), not by
    # an S3 entry in events: Zappa would add a permission on every update for that.
    assert packaged["AWS_EVENT_MAPPING"] == {}
    # Zappa 0.63.0 scans the tree for zappa.websocket imports; a hit (say, in a
    # venv under build/) would make every deploy create a WebSocket API.
    assert "WEBSOCKET_HANDLER_MODULE" not in packaged


def test_libraries_import_from_the_package_not_this_machine(
    task_root: Path, runtime_dir: Path, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **LOCALSTACK_KEYS}
    with LambdaContainer(task_root, runtime_dir, env, tmp_path / "log") as container:
        origins = container.module_origins(
            "PIL._imaging",
            "PIL._webp",
            "PIL._avif",
            "_pi_heif",
            "psycopg",
            "psycopg_binary.pq",
            "sqlalchemy",
            "flask",
            "alembic",
            "zappa.handler",
            "boto3",
            "botocore",
        )
    from_runtime = {"boto3", "botocore"}
    for module, origin in origins.items():
        assert origin is not None, module
        expected = runtime_dir if module in from_runtime else task_root
        assert Path(origin).is_relative_to(expected), (module, origin)


def test_the_decoders_are_the_fixed_releases_under_the_runtime(
    task_root: Path, runtime_dir: Path, tmp_path: Path
) -> None:
    # GIVEN the unzipped package, run by its own handler under the runtime's Python
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **LOCALSTACK_KEYS}
    with LambdaContainer(task_root, runtime_dir, env, tmp_path / "log") as container:
        versions = container.decoder_versions()

    # THEN it is that Python, and every decoder of hostile files is at least the fixed release
    assert f"python{versions['python'].rsplit('.', 1)[0]}" == runtime()
    too_old = {
        name: versions[name]
        for name, floor in MIN_DECODERS.items()
        if Version(versions[name]) < Version(floor)
    }
    assert too_old == {}, versions


def test_bytecode_is_shipped_compiled_for_lambda(package_zip: Path) -> None:
    # Every module has its .pyc (a read-only /var/task cannot cache them), and each
    # is unchecked-hash: valid whatever the times the files get when unzipped, and
    # never a developer's timestamp-based leftover.
    tag = python_tag().removeprefix("cp")
    with zipfile.ZipFile(package_zip) as archive:
        names = set(archive.namelist())
        for module in ("app.py", "kitteh/imaging.py", "handlers/resize.py", "PIL/Image.py"):
            folder, _, stem = module.rpartition("/")
            pyc = f"{folder + '/' if folder else ''}__pycache__/{stem[:-3]}.cpython-{tag}.pyc"
            assert pyc in names, pyc
            flags = int.from_bytes(archive.read(pyc)[4:8], "little")
            assert flags == 0b01, f"{pyc} is not an unchecked-hash .pyc"


def test_image_codecs_we_accept_are_all_there(package_zip: Path) -> None:
    # FreeType is left out to save 1 MB; the formats we read and write must not be.
    names = _names(package_zip)
    assert not [n for n in names if n.startswith("PIL/_imagingft")]
    for codec in ("PIL/_imaging.", "PIL/_webp.", "PIL/_avif.", "pillow.libs/libavif", "_pi_heif."):
        assert [n for n in names if n.startswith(codec)], codec
