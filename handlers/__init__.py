"""Lambda entry points, and what only Lambda's events need: their shapes and SQS's batch rule.

Each function module (``resize``, ``maintenance``, ``migrate``) parses its event and
hands the work to :mod:`kitteh`. :mod:`handlers.events` reads the S3 and SQS events
once, for them, the local relay, the tests and the benchmarks; :mod:`handlers.queues`
is how an SQS batch is answered without losing a message. The core never sees either.
"""
