"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright, and the app.

The app runs exactly as ``make run`` starts it (``python -m localcloud.run``, as a
subprocess), so the browser sees what a developer's browser sees: the form post
with its CSRF token, the presigned POST straight to the S3 endpoint (a CORS
preflight included), and the image page that polls until the resize function
has run.

Playwright's own browser builds cannot be downloaded on CI; Debian's ``chromium``
package can (``scripts/install-browser.sh``), hence ``executable_path``.

Every page the app serves reaches the browser under the Content-Security-Policy
that the front end is written for (:data:`CONTENT_SECURITY_POLICY`: scripts and
styles from the app's own files only, no inline scripts, handlers or style
attributes, no eval), and a test fails on any violation. Screenshots go to
``build/screenshots/`` (:data:`SCREENSHOTS`), which CI prints.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.postgres import throwaway_database
from tests.running_app import running_app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
#: The policy of the contract between issues 10 and 11 (docs: HELPERS' CSP contract). Every
#: origin here is a loopback one: the app, and moto's or LocalStack's S3 endpoint.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: http://127.0.0.1:* http://localhost:*",
        "connect-src 'self' http://127.0.0.1:* http://localhost:*",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
#: Collects the page's CSP violations where the test can read them.
RECORD_CSP_VIOLATIONS = """
window.kittehCspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.kittehCspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${where}`
  );
});
"""
#: --no-sandbox because CI runs as root; the --disable-* flags keep Chromium from
#: reaching Google's services (refused here, and noise anywhere).
#: LocalNetworkAccessChecks: a document that Playwright fulfils (to add the CSP) has no
#: address of its own, so Chromium would treat the loopback S3 endpoint as a private
#: network it may not reach from it. Served as it is, the app needs no such switch.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=LocalNetworkAccessChecks",
]
INSTALL_HINT = "scripts/install-browser.sh (as root: apt-get install chromium)"
LOCALSTACK_URL = "http://127.0.0.1:4566"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for these tests, closed before the rest of the suite runs."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Debian's Chromium at {CHROMIUM}; install it with "
            f"{INSTALL_HINT}, or deselect them with -m 'not browser'",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def embedded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``make run``'s default stack, for this folder's tests."""
    log = tmp_path_factory.mktemp("browser-embedded") / "make-run.log"
    with running_app(log, {"KITTEH_STACK": "embedded"}) as url:
        yield url


@pytest.fixture(scope="package")
def localstack_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The LocalStack stack, which (unlike moto) enforces presigned-POST policies and CORS.

    It gets a throwaway database and a bucket and queues of its own, so that it can
    share a running LocalStack with other tests; localcloud.run reuses one that
    answers on 4566 and otherwise starts it (and stops it on exit).
    """
    suffix = uuid.uuid4().hex[:10]
    bucket, queue = f"kitteh-browser-{suffix}", f"kitteh-browser-{suffix}"
    log = tmp_path_factory.mktemp("browser-localstack") / "make-run.log"
    with throwaway_database("kitteh_browser") as database_url:
        env = {
            "KITTEH_STACK": "localstack",
            "DATABASE_URL": database_url,
            "KITTEH_BUCKET": bucket,
            "KITTEH_VARIANTS_BUCKET": bucket,
            "KITTEH_QUEUE": queue,
        }
        try:
            with running_app(log, env, timeout=180) as url:
                yield url
        finally:
            remove_localstack_resources(bucket, [queue, f"{queue}-dlq"])


def remove_localstack_resources(bucket: str, queues: list[str]) -> None:
    """Delete this run's bucket and queues, so a long-lived LocalStack does not pile them up."""
    session = boto3.session.Session(
        aws_access_key_id="kitteh-local",
        aws_secret_access_key="kitteh-local",
        region_name="us-east-1",
    )
    s3 = session.client("s3", endpoint_url=LOCALSTACK_URL)
    sqs = session.client("sqs", endpoint_url=LOCALSTACK_URL)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
    for name in queues:
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError as exc:
            if "NonExistentQueue" not in str(exc.response.get("Error", {}).get("Code")):
                raise


@pytest.fixture
def app_url(request: pytest.FixtureRequest) -> str:
    """The embedded stack, or another one when a test is parametrized with its name."""
    stack = getattr(request, "param", "embedded")
    return str(request.getfixturevalue(f"{stack}_url"))


def new_context(browser: Browser, app_url: str, **options: object) -> BrowserContext:
    """A browser context (cookies, cache, storage) on the app, under the CSP, no violations kept.

    Call :func:`assert_no_csp_violations` on its pages before closing it.
    """
    options = {"viewport": {"width": 1280, "height": 1000}, **options}
    context = browser.new_context(base_url=app_url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)

    def with_policy(route: Route) -> None:
        # Pages only; and not a form's POST, which fetching here would send a second time.
        # (Playwright routes neither redirects' targets: those pages come without it.)
        if route.request.resource_type != "document" or route.request.method != "GET":
            route.fallback()
            return
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": CONTENT_SECURITY_POLICY}
        route.fulfill(response=response, headers=headers)

    context.route(f"{app_url}/**", with_policy)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    return context


def assert_no_csp_violations(page: Page) -> None:
    if page.is_closed():
        return
    violations = page.evaluate("window.kittehCspViolations || []")
    assert violations == [], f"{page.url} broke the Content-Security-Policy: {violations}"


@pytest.fixture
def context(browser: Browser, app_url: str) -> Iterator[BrowserContext]:
    """A fresh browser context per test; its pages must keep to the CSP."""
    context = new_context(browser, app_url)
    yield context
    for open_page in context.pages:
        assert_no_csp_violations(open_page)
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in a fresh context, with the app as base URL."""
    return context.new_page()
