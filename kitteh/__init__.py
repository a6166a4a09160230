"""Kitteh's core: images, names, storage, the database and its migrations.

Its functions take a SQLAlchemy ``Session``, a ``Storage`` and plain values; nothing
in this package knows about Flask, click, Lambda's events or the operator's tools.
The web app (``app.py``, ``views/``), the Lambda handlers (``handlers/``, which read
the events), the CLI (``cli.py``), the operations package (``ops/``) and the tests
all call into it; it imports none of them (pyproject.toml's import contracts).
Importing the package itself is cheap on purpose: ``ops.stage`` runs on the bare
python3 of ``scripts/package.sh`` with ``kitteh.config``, and LocalStack's init
hook runs ``ops.bootstrap`` with nothing but boto3 installed.
"""
