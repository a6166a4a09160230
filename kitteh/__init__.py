"""Kitteh's core: images, names, storage and the event flow.

Nothing in this package knows about Flask or AWS Lambda. The web app (``app.py``),
the Lambda handlers (``handlers/``), the CLI and the tests all call into it.
Importing the package itself is cheap on purpose: the LocalStack init hook runs
``kitteh.bootstrap`` with nothing but boto3 installed.
"""
