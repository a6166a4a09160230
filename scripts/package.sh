#!/usr/bin/env bash
# Build a stage's Lambda package with `zappa package`, without AWS credentials.
#
#   scripts/package.sh [STAGE] [OUTPUT]        (default: dev build/dev.zip)
#
# Zappa zips the *active virtualenv* plus the working tree, so the package is
# built from a venv of its own (build/venv) that holds the run-time lock
# (requirements.txt) and Zappa's (requirements-zappa.txt) and nothing else, each
# installed with its hashes checked: test tools in the project's .venv can never
# leak into the zip, and two builds of one commit ship the same code. The venv is
# rebuilt when a lock, the interpreter or the target platform changes. It must sit in a folder
# named "venv" (or a hidden one): Zappa 0.63.0 walks the project tree for
# `zappa.websocket` imports, skipping only such folders, and would otherwise find
# its own handler.py in the venv and deploy a WebSocket API nobody asked for.
#
# Lambda's python3.9-3.11 runtimes run on Amazon Linux 2 (glibc 2.26), python3.12+
# on Amazon Linux 2023 (glibc 2.34). The runtime requirements are installed as
# binary wheels for that platform only (pip --platform manylinux_<glibc>_x86_64),
# so a pin whose wheels need a newer glibc fails here, not on Lambda at import.
# Zappa's own re-download of "manylinux" wheels from PyPI is switched off in
# zappa_settings.json (use_precompiled_packages: false): the wheels are right already.
#
# Env: KITTEH_PACKAGE_VENV    venv to build from (default build/venv)
#      KITTEH_REQUIREMENTS    lock file to package (default requirements.txt; hashed)
#      KITTEH_PACKAGE_PYTHON  interpreter for the venv (default: scripts/find-python.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ZAPPA_LOCK="requirements-zappa.txt"
STAGE="${1:-dev}"
OUTPUT="${2:-build/$STAGE.zip}"
VENV="${KITTEH_PACKAGE_VENV:-$ROOT/build/venv}"
REQUIREMENTS="${KITTEH_REQUIREMENTS:-requirements.txt}"
started_at=$SECONDS

die() { echo "package.sh: $*" >&2; exit 1; }

# The stage's runtime ("python3.13"), following "extends" like Zappa does: ops.stage's
# reading of zappa_settings.json, which needs nothing but the machine's python3.
runtime="$(PYTHONPATH="$ROOT" python3 -m ops.stage runtime "$STAGE")" ||
    die "cannot read the runtime of stage '$STAGE'"
py_version="${runtime#python}"                   # 3.13
py_tag="cp${py_version/./}"                      # cp313
case "$py_version" in
    3.9 | 3.10 | 3.11) glibc="2_26" ;;           # Amazon Linux 2
    *) glibc="2_34" ;;                           # Amazon Linux 2023
esac
platform="manylinux_${glibc}_x86_64"
# Every manylinux tag that glibc runs, newest first: pip does not derive the older
# ones from --platform itself (the legacy aliases 2014/2010/1 name 2.17/2.12/2.5).
platform_args=()
for ((minor = ${glibc#2_}; minor >= 5; minor--)); do
    platform_args+=(--platform "manylinux_2_${minor}_x86_64")
done
platform_args+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64
    --platform manylinux1_x86_64)
PYTHON="${KITTEH_PACKAGE_PYTHON:-$("$ROOT/scripts/find-python.sh")}" || exit 1

"$PYTHON" - "$py_version" <<'PY' || die "$PYTHON must be CPython $py_version on Linux x86_64 (runtime $runtime)"
import platform, sys
want = sys.argv[1]
ok = (
    f"{sys.version_info[0]}.{sys.version_info[1]}" == want
    and sys.implementation.name == "cpython"
    and sys.platform == "linux"
    and platform.machine() == "x86_64"
)
sys.exit(0 if ok else 1)
PY

interpreter="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
stamp="$(cat "$REQUIREMENTS" "$ZAPPA_LOCK" | sha256sum | cut -c1-16)-$platform-$interpreter"
site="$VENV/lib/python$py_version/site-packages"
if [[ "$(cat "$VENV/.kitteh-package-stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "Building $VENV ($REQUIREMENTS + $ZAPPA_LOCK, wheels for $platform) ..."
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    pip=("$VENV/bin/python" -m pip --disable-pip-version-check --quiet)
    # Runtime requirements: binary wheels for Lambda's platform, straight into the
    # venv's site-packages (pip allows --platform only together with --target).
    if ! "${pip[@]}" install --only-binary=:all: "${platform_args[@]}" \
        --implementation cp --python-version "$py_version" --abi "$py_tag" \
        --require-hashes --target "$site" -r "$REQUIREMENTS"; then
        rm -rf "$VENV"
        die "a pin in $REQUIREMENTS has no wheel for Lambda $runtime ($platform, i.e." \
            "glibc ${glibc/_/.}); pin a version that has one (see docs/deploy.md, 'Wheels')"
    fi
    # Zappa itself, for this machine: its build-time dependencies are excluded from
    # the zip by zappa_settings.json (only zappa, werkzeug and durationpy are needed
    # by its handler at run time). Its lock holds the run-time lock's versions, so
    # what is already in site-packages stays as it is.
    "${pip[@]}" install --require-hashes -r "$ZAPPA_LOCK"
    "${pip[@]}" check
    echo "$stamp" >"$VENV/.kitteh-package-stamp"
fi

mkdir -p "$(dirname "$OUTPUT")"
partial="$OUTPUT.partial"
rm -f "$partial"
# A clean environment: the package venv is the active one (Zappa packages
# $VIRTUAL_ENV), and no AWS profile, credentials or endpoint of the developer's can
# reach the build. `zappa package` does not call AWS; the fake keys only keep
# botocore from searching for real ones.
env -i \
    HOME="$HOME" PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    TMPDIR="${TMPDIR:-/tmp}" VIRTUAL_ENV="$VENV" \
    AWS_ACCESS_KEY_ID=packaging-only AWS_SECRET_ACCESS_KEY=packaging-only \
    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$VENV/bin/zappa" package "$STAGE" --output "$partial" --disable_progress --json
if "$VENV/bin/python" -c 'import sys, zipfile
settings = zipfile.ZipFile(sys.argv[1]).read("zappa_settings.py").decode()
sys.exit("WEBSOCKET_HANDLER_MODULE=" not in settings)' "$partial"; then
    rm -f "$partial"
    die "Zappa detected a WebSocket handler (it scans the tree, $VENV included): keep" \
        "the venv in a folder named 'venv' and import no zappa.websocket"
fi
# Lambda's /var/task is read-only, so without bytecode in the zip every cold start
# compiles each imported module again (1.3 s instead of 0.5 s for the first event,
# docs/deploy.md section 6). Compiled here, outside the working tree, as
# unchecked-hash .pyc: valid whatever the files' times after unzipping, and never
# left where a developer's edits could go stale behind them.
"$VENV/bin/python" - "$partial" <<'PY'
import compileall, os, pathlib, shutil, sys, tempfile, zipfile
from py_compile import PycInvalidationMode

path = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    root = pathlib.Path(tmp, "task")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        archive.extractall(root)
    ok = compileall.compile_dir(
        root, quiet=2, stripdir=str(root), prependdir="/var/task",
        invalidation_mode=PycInvalidationMode.UNCHECKED_HASH, workers=1,
    )
    if not ok:
        sys.exit("package.sh: a module in the package does not compile")
    rebuilt = path + ".pyc"
    with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as out:
        for info in infos:  # the same entries, in Zappa's order, with their modes
            out.writestr(info, (root / info.filename).read_bytes() if not info.is_dir() else b"")
        for pyc in sorted(root.rglob("__pycache__/*.pyc")):
            name = pyc.relative_to(root).as_posix()
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            out.writestr(entry, pyc.read_bytes(), zipfile.ZIP_DEFLATED)
    shutil.move(rebuilt, path)
PY
mv -f "$partial" "$OUTPUT"

# What the zip holds, by distribution (each file found in a dist-info RECORD) or
# as the project itself: the numbers docs/deploy.md quotes.
"$VENV/bin/python" - "$OUTPUT" <<'PY'
import csv, io, os, sys, zipfile
from collections import Counter

path = sys.argv[1]
with zipfile.ZipFile(path) as archive:
    infos = archive.infolist()
    owner = {}
    for info in infos:
        if info.filename.endswith(".dist-info/RECORD"):
            dist = info.filename.split("/")[0].removesuffix(".dist-info")
            for row in csv.reader(io.TextIOWrapper(archive.open(info), "utf-8")):
                owner[row[0]] = dist
zipped = Counter()
for info in infos:
    zipped[owner.get(info.filename, "(project, handler, settings)")] += info.compress_size
unzipped = sum(i.file_size for i in infos) / 2**20
print(f"{path}: {os.path.getsize(path) / 2**20:.1f} MB zipped, {unzipped:.1f} MB unzipped, "
      f"{len(infos)} files. Largest parts, zipped MB:")
for name, size in zipped.most_common(6):
    print(f"  {size / 2**20:5.2f}  {name}")
PY
echo "Packaged stage $STAGE in $((SECONDS - started_at)) s."
