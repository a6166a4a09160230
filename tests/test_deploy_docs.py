"""docs/deploy.md against the code and Zappa: the facts a first deploy on AWS depends on.

People follow that page with their own account; every wrong fact there fails on AWS,
however green the suite. These hold it to what the code does and what Zappa 0.63.0's
source says (cli.py ``certify``, package.sh's platform check).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.package.zappa_config import runtime

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "deploy.md"


@pytest.fixture
def docs() -> str:
    return DOCS.read_text()


def section(docs: str, heading: str) -> str:
    start = docs.index(heading)
    following = re.search(r"^#{2,3} ", docs[start + len(heading) :], re.MULTILINE)
    return docs[start : start + len(heading) + following.start()] if following else docs[start:]


def json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", text, re.DOTALL)


def test_the_build_platform_is_stated_where_the_package_is_built(docs: str) -> None:
    # scripts/package.sh refuses anything else; Mac and ARM users must learn it at step 1.
    package = section(docs, "## 1. The package")
    assert f"Linux x86_64 with {runtime()}" in package
    assert "linux/amd64" in package  # the way out on a Mac or on ARM


def test_certify_is_described_as_zappa_does_it(docs: str) -> None:
    # cli.py certify: Route 53 records are written unless route53_enabled is false,
    # and the CloudFront name is never printed.
    domain = section(docs, "### 3.9 Custom domain")
    assert '"route53_enabled": false' in domain
    assert "does **not** print" in domain
    assert "get-domain-name" in domain and "distributionDomainName" in domain
    assert "the CloudFront domain it prints" not in domain


def test_the_runtime_policy_grants_what_the_code_uses(docs: str) -> None:
    role = section(docs, "### 3.4 The function's role (least privilege)")
    blocks = json_blocks(role)
    statements = {s["Sid"]: s for s in json.loads(blocks[1])["Statement"]}
    # Deleting an image, pruning a recipe's old formats, removing a withdrawn upload.
    assert "s3:DeleteObject" in statements["OriginalsAndVariants"]["Action"]
    # The SQS consumer deletes the messages that succeeded in a failing batch itself.
    assert {"sqs:DeleteMessage", "sqs:GetQueueUrl"} <= set(statements["ResizeQueue"]["Action"])
    # Logs: the function's own group only, made by the deployer (no CreateLogGroup guess).
    logs = statements["Logs"]
    assert logs["Resource"].endswith(":log-group:/aws/lambda/kitteh-production:*")
    assert "logs:CreateLogGroup" not in logs["Action"]
    # The optional variants bucket (KITTEH_VARIANTS_BUCKET) has its statements.
    assert len(blocks) == 3, "no statements for the optional variants bucket"
    extra = json.loads("[" + blocks[2].strip().rstrip(",") + "]")
    assert {s["Sid"] for s in extra} == {"VariantsBucketHealthCheck", "VariantsBucket"}
    assert any(s["Resource"] == "arn:aws:s3:::VARIANTS_BUCKET/variants/*" for s in extra)
    assert any("s3:DeleteObject" in s["Action"] for s in extra)


def test_which_commands_need_aws_credentials_is_said(docs: str) -> None:
    first_deploy = section(docs, "## 3. First deploy")
    for command in ("make deploy STAGE=", "make migrate STAGE=", "make logs STAGE=", "make doctor"):
        assert command in first_deploy
    readme = (ROOT / "README.md").read_text()
    assert "**AWS credentials:**" in readme


def test_the_rehearsals_tests_are_all_listed(docs: str) -> None:
    listed = set(
        re.findall(r"^\| `(test_\w+)` \|", section(docs, "## 8. The deploy rehearsal"), re.M)
    )
    module = ast.parse((ROOT / "tests" / "deploy" / "test_rehearsal.py").read_text())
    tests = {
        node.name
        for node in module.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert listed == tests
