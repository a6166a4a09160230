"""API Gateway and the network to it, for a rehearsal without the network.

After a deploy, Zappa GETs the API's URL (``https://<api>.execute-api.<region>
.amazonaws.com/<stage><touch_path>``) and ``make deploy``'s smoke test talks to the
same URL. Offline, nothing answers that name. Neither tool is patched: both honour
``HTTPS_PROXY`` (requests and urllib), so this plays the network with an HTTPS
proxy that answers ``CONNECT *.execute-api.*:443`` itself. It terminates TLS with a
certificate of a throwaway authority (``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``
name it), turns each request into the REST proxy event API Gateway would send, and
invokes the function the API integrates, through the emulator's Lambda. Any other
host is refused, as there is no network.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import socketserver
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.package.apigw import rest_event

#: (api id, stage, event) -> the function's answer, or None when no API has that id.
Invoke = Callable[[str, str, dict[str, Any]], dict[str, Any] | None]

EXECUTE_API = re.compile(
    r"^(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$"
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path, region: str) -> tuple[Path, Path, Path]:
    """A throwaway authority and a certificate for ``*.execute-api.<region>.amazonaws.com``.

    Returns (authority certificate, server certificate, server key) as PEM files.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Kitteh deploy rehearsal authority")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    host = f"*.execute-api.{region}.amazonaws.com"
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "authority.pem", folder / "server.pem", folder / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class _ApiRequest(BaseHTTPRequestHandler):
    """One HTTP request inside the TLS tunnel, answered as API Gateway would."""

    protocol_version = "HTTP/1.1"
    host = ""
    gateway: ApiGateway

    def log_message(self, format: str, *args: Any) -> None:
        self.gateway.requests.append(f"{self.command} https://{self.host}{self.path}")

    def _answer(self) -> None:
        match = EXECUTE_API.match(self.host)
        assert match is not None
        parts = urlsplit(self.path)
        stage, _, rest = parts.path.lstrip("/").partition("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        event = rest_event(
            self.command,
            "/" + rest,
            query=dict(parse_qsl(parts.query)) or None,
            headers=headers,
            body=body,
            host=self.host,
            stage=stage,
            api_id=match["api"],
        )
        answer = self.gateway.invoke(match["api"], stage, event)
        if answer is None:  # what API Gateway says for an API id it does not know
            self._send(403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}')
            return
        payload = answer.get("body") or ""
        data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        self._send(int(answer.get("statusCode", 502)), dict(answer.get("headers") or {}), data)

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _answer


class _Tunnel(socketserver.StreamRequestHandler):
    """A proxy client's CONNECT: refused unless it is for an execute-api host."""

    server: _ProxyServer

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1").strip()
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # the proxy request's headers: nothing in them matters here
        method, _, target = request_line.partition(" ")
        host, _, port = target.split(" ")[0].rpartition(":")
        gateway = self.server.gateway
        if method != "CONNECT" or port != "443" or not EXECUTE_API.match(host):
            gateway.refused.append(request_line)
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with gateway.tls.wrap_socket(self.connection, server_side=True) as tls:
            handler = type("Request", (_ApiRequest,), {"host": host, "gateway": gateway})
            handler(tls, self.client_address, self.server)


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    gateway: ApiGateway


class ApiGateway:
    """The proxy; ``environment()`` is what a client process needs to go through it."""

    def __init__(self, invoke: Invoke, folder: Path, region: str) -> None:
        self.invoke = invoke
        self.authority, certificate, key = make_certificates(folder, region)
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(certificate, key)
        self.requests: list[str] = []
        self.refused: list[str] = []
        self._server = _ProxyServer(("127.0.0.1", 0), _Tunnel)
        self._server.gateway = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ApiGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def proxy_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def environment(self) -> dict[str, str]:
        """Proxy and trust settings for requests (Zappa) and urllib (make deploy)."""
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "REQUESTS_CA_BUNDLE": str(self.authority),
            "SSL_CERT_FILE": str(self.authority),
        }


def lambda_answer(payload: bytes | str) -> dict[str, Any]:
    """The function's answer as API Gateway reads it; a function error is its 502."""
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return {"statusCode": 502, "body": '{"message": "Internal server error"}'}
    return answer
