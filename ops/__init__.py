"""Kitteh's operations: set up, deploy, wire and check a stack. Never shipped to Lambda.

The operator's ring, beside the core (:mod:`kitteh`, :mod:`models`) and the edges
that ship (:mod:`handlers`, :mod:`views`, ``app.py``, ``cli.py``):

- :mod:`ops.stage`: a stage of ``zappa_settings.json``, ``extends`` applied;
- :mod:`ops.account`: what the AWS account holds for a stage (who deploys, its secrets, its API);
- :mod:`ops.bootstrap`: buckets, queues, notification and CORS (``make bootstrap``);
- :mod:`ops.wiring`: what Zappa wires badly (the S3 trigger, the SQS mapping's setting);
- :mod:`ops.doctor`: checks a running stack (``make doctor``, ``flask kitteh doctor``);
- :mod:`ops.deploy`: the steps of ``make deploy`` and friends (``scripts/deploy.py``).

``zappa_settings.json`` excludes this package from the Lambda zip, and import-linter
keeps the shipped packages (kitteh, models, handlers, views) from importing it
(pyproject.toml); ``cli.py``'s ``doctor`` and ``bootstrap`` commands import it only
when they run, on an operator's machine. It imports the core, never the other way.

Importing the package itself costs nothing: ``scripts/package.sh`` runs
``python3 -m ops.stage`` with the machine's bare python3, before any venv exists,
and LocalStack's init hook runs ``python -m ops.bootstrap`` with nothing but boto3.
"""
