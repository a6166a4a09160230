"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright, and the app.

The app runs exactly as ``make run`` starts it (``python -m localcloud.run``, as a
subprocess), so the browser sees what a developer's browser sees: the form post
with its CSRF token, the presigned POST straight to the S3 endpoint (a CORS
preflight included), and the image page that polls until the resize function
has run.

Playwright's own browser builds cannot be downloaded on CI; Debian's ``chromium``
package can (``scripts/install-browser.sh``), hence ``executable_path``.

Every page the app serves reaches the browser under the app's own
Content-Security-Policy (``views/security.py``: scripts and styles from the app's
own files only, no inline scripts, handlers or style attributes, no eval; images
and uploads to the S3 endpoint the stack names), and a test fails on any violation,
or on a page that came without the policy. Screenshots go to ``build/screenshots/``
(:data:`SCREENSHOTS`), which CI prints.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright

from tests.support.postgres import throwaway_database
from tests.support.running_app import running_app

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
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
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
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


#: Each context's pages that came without the app's policy (for :func:`assert_no_csp_violations`).
_UNGUARDED: weakref.WeakKeyDictionary[BrowserContext, list[str]] = weakref.WeakKeyDictionary()


def new_context(browser: Browser, app_url: str, **options: object) -> BrowserContext:
    """A browser context (cookies, cache, storage) on the app, its CSP violations kept.

    Call :func:`assert_no_csp_violations` on its pages before closing it.
    """
    options = {"viewport": {"width": 1280, "height": 1000}, **options}
    context = browser.new_context(base_url=app_url, **options)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    unguarded: list[str] = []

    def note_unguarded(response: Response) -> None:
        # The violations recorded below prove something only under the app's real policy.
        if response.request.resource_type != "document" or not response.url.startswith(app_url):
            return
        policy = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in policy:
            unguarded.append(f"{response.status} {response.url}: {policy or 'no policy'}")

    context.on("response", note_unguarded)
    _UNGUARDED[context] = unguarded
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    return context


def assert_no_csp_violations(page: Page) -> None:
    unguarded = _UNGUARDED.get(page.context, [])
    assert unguarded == [], f"pages served without the app's Content-Security-Policy: {unguarded}"
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
