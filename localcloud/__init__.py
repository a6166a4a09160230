"""The local cloud: what stands in for AWS on a developer's machine and in the tests.

On AWS, Lambda invokes the handlers and S3 stores the pictures. Here, moto's server
or LocalStack plays S3 and SQS, and this package plays the rest:

* :mod:`localcloud.runtime`: Lambda's side of an invocation (the context object);
* :mod:`localcloud.relay`: S3 → SQS → the resize function, as Lambda would deliver it;
* :mod:`localcloud.run`: ``make run``'s stacks (embedded moto, or LocalStack);
* :mod:`localcloud.postgres` and :mod:`localcloud.harness`: throwaway databases and
  private stacks, shared by the tests and the benchmarks.

None of it ships in the Lambda package (``zappa_settings.json`` leaves it out, and
``tests/package`` checks), and the core (:mod:`kitteh`) never imports it.
"""
