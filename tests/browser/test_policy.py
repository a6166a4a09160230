"""The app's own Content-Security-Policy, enforced by Chromium, as the other browser tests assume.

Every browser test fails on a CSP violation (``conftest.assert_no_csp_violations``);
that proves something only if the policy the app sends is in force and a violation
is reported. Here one is provoked on purpose.
"""

from __future__ import annotations

from playwright.sync_api import Page


def test_the_app_policy_refuses_an_inline_script_and_reports_it(page: Page) -> None:
    response = page.goto("/")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )

    ran = page.evaluate(
        """() => new Promise((resolve) => {
          window.kittehInlineRan = false;
          const done = () => resolve(window.kittehInlineRan);
          document.addEventListener("securitypolicyviolation", done);
          const script = document.createElement("script");
          script.textContent = "window.kittehInlineRan = true;";
          document.body.append(script);
        })"""
    )

    assert ran is False
    violations = page.evaluate("window.kittehCspViolations.splice(0)")  # read, and cleared
    assert [v.split(" blocked ")[0] for v in violations] == ["script-src-elem"], violations
