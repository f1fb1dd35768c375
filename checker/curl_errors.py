"""libcurl error codes -> (error kind, short safe message).

libcurl's own messages often quote the URL ("Could not resolve host: x", "Failed to connect to x port
443 after 3 ms", and for redirects the whole Location), and a monitor URL may carry a token in its path,
query or userinfo. So we never pass libcurl's text on: every message here is built from the error class
and the host name only.
"""

from __future__ import annotations

import pycurl

_TLS_CODES = {
    pycurl.E_SSL_CONNECT_ERROR: "TLS handshake failed",
    pycurl.E_PEER_FAILED_VERIFICATION: "TLS certificate not trusted or wrong name",
    pycurl.E_SSL_CERTPROBLEM: "TLS client certificate problem",
    pycurl.E_SSL_CIPHER: "TLS cipher problem",
    pycurl.E_SSL_CACERT_BADFILE: "TLS CA bundle could not be read",
    pycurl.E_SSL_ENGINE_INITFAILED: "TLS engine failed",
    pycurl.E_SSL_SHUTDOWN_FAILED: "TLS shutdown failed",
    pycurl.E_SSL_ISSUER_ERROR: "TLS certificate issuer check failed",
    pycurl.E_SSL_PINNEDPUBKEYNOTMATCH: "TLS pinned key mismatch",
    pycurl.E_SSL_INVALIDCERTSTATUS: "TLS certificate status invalid",
    pycurl.E_USE_SSL_FAILED: "TLS could not be used",
}

X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED = 9, 10
_VERIFY_RESULTS = {
    X509_V_ERR_CERT_NOT_YET_VALID: "TLS certificate not yet valid",
    X509_V_ERR_CERT_HAS_EXPIRED: "TLS certificate expired",
}
"""OpenSSL verify results (CURLINFO_SSL_VERIFYRESULT) said more precisely than "not trusted": the ones about
the certificate's validity period, which its owner fixes by renewing it."""

_PROTOCOL_CODES = {
    pycurl.E_UNSUPPORTED_PROTOCOL: "scheme not allowed (only http and https)",
    pycurl.E_URL_MALFORMAT: "malformed URL",
    pycurl.E_GOT_NOTHING: "empty reply",
    pycurl.E_RECV_ERROR: "connection reset while receiving",
    pycurl.E_SEND_ERROR: "connection reset while sending",
    pycurl.E_PARTIAL_FILE: "response body shorter than announced",
    pycurl.E_HTTP2: "HTTP/2 framing error",
    pycurl.E_BAD_CONTENT_ENCODING: "bad content encoding",
    8: "malformed HTTP response",  # CURLE_WEIRD_SERVER_REPLY
    92: "HTTP/2 stream error",  # CURLE_HTTP2_STREAM
}


def classify(code: int, host: str, *, blocked_reason: str | None, body_overflow: bool,
             timeout: float, max_redirects: int, cap: int, verify_result: int = 0) -> tuple[str, str]:
    """Map a libcurl result code to (error_kind, message). `host` is a bare host name (no port, path or
    credentials); `blocked_reason` is set when our open-socket hook refused a connection, which libcurl
    reports as a plain connect failure; `body_overflow` when our write callback stopped the read;
    `verify_result` is OpenSSL's certificate verify result (0: none or fine)."""
    where = host or "the target"
    if blocked_reason is not None and code in (pycurl.E_COULDNT_CONNECT, pycurl.E_OPERATION_TIMEDOUT):
        return "blocked_address", f"{blocked_reason} (host {where})"
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return "timeout", f"no complete response from {where} within {timeout:g} s"
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return "dns", f"could not resolve {where}"
    if code == pycurl.E_COULDNT_CONNECT:
        return "connect", f"could not connect to {where} (refused or unreachable)"
    if code == pycurl.E_TOO_MANY_REDIRECTS:
        return "too_many_redirects", f"more than {max_redirects} redirects (last host {where})"
    if code == pycurl.E_FILESIZE_EXCEEDED or (code == pycurl.E_WRITE_ERROR and body_overflow):
        return "body_too_large", f"response body from {where} is larger than {cap} bytes"
    if code == pycurl.E_PEER_FAILED_VERIFICATION and verify_result in _VERIFY_RESULTS:
        return "tls", f"{_VERIFY_RESULTS[verify_result]} with {where}"
    if code in _TLS_CODES:
        return "tls", f"{_TLS_CODES[code]} with {where}"
    if code in _PROTOCOL_CODES:
        return "protocol", f"{_PROTOCOL_CODES[code]} from {where}"
    return "protocol", f"transfer failed (curl error {code}) with {where}"
