"""A stand-in for a public JSON-RPC node: anvil behind a loopback proxy that refuses what
public nodes refuse.

    with PublicNode() as node:            # anvil (real EIP-1559 base fee, wall-clock time) + proxy
        node.url                          # the proxy: the only URL a signing client gets
        node.anvil_url                    # anvil itself, for the test's own stage directions
        node.refused                      # methods the proxy refused, in order

The proxy (``http.server.ThreadingHTTPServer`` on 127.0.0.1, a free port) forwards every
JSON-RPC call (single or batch) to anvil, except the methods a public node does not
serve -- ``anvil_*``, ``evm_*``, ``hardhat_*``, ``eth_sendTransaction(Sync)``,
``eth_accounts``, ``personal_*`` -- which get a JSON-RPC error ``-32601 method not
allowed``. anvil automines (one block per transaction, timestamps from the wall clock),
has anvil's default base fee (1 gwei, then EIP-1559's adjustment) and funds the first
ten accounts of the default mnemonic.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vyperp.chain.node import AnvilNode

BLOCKED_PREFIXES = ("anvil_", "evm_", "hardhat_", "personal_")
BLOCKED_METHODS = frozenset({"eth_sendTransaction", "eth_sendTransactionSync", "eth_accounts"})


def blocked(method: str) -> bool:
    return method in BLOCKED_METHODS or method.startswith(BLOCKED_PREFIXES)


class _Upstream(threading.local):
    """One keep-alive connection to anvil per proxy thread."""

    conn: http.client.HTTPConnection | None = None


class PublicNode:
    """anvil + the refusing proxy (a context manager; see the module docstring)."""

    def __init__(self, **anvil_kwargs: Any):
        anvil_kwargs.setdefault("base_fee", None)
        anvil_kwargs.setdefault("gas_price", None)
        anvil_kwargs.setdefault("timestamp", int(time.time()))
        self.anvil = AnvilNode(**anvil_kwargs)
        self.refused: list[str] = []
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._upstream = _Upstream()

    @property
    def anvil_url(self) -> str:
        return self.anvil.url

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _forward(self, body: bytes) -> bytes:
        u = urllib.parse.urlsplit(self.anvil.url)
        for attempt in (0, 1):
            conn = self._upstream.conn
            if conn is None:
                conn = self._upstream.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                conn.connect()
                assert conn.sock is not None
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait per call
            try:
                conn.request("POST", "/", body, {"Content-Type": "application/json"})
                return conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._upstream.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _answer(self, call: dict[str, Any]) -> dict[str, Any] | None:
        method = str(call.get("method"))
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        if blocked(method):
            with self._lock:
                self.refused.append(method)
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32601, "message": "method not allowed"}}
        return None

    def handle(self, body: bytes) -> bytes:
        payload = json.loads(body)
        if isinstance(payload, list):
            answers = [self._answer(c) for c in payload]
            allowed = [c for c, a in zip(payload, answers) if a is None]
            forwarded = iter(json.loads(self._forward(json.dumps(allowed).encode())) if allowed else [])
            return json.dumps([a if a is not None else next(forwarded) for a in answers]).encode()
        refusal = self._answer(payload)
        if refusal is not None:
            return json.dumps(refusal).encode()
        return self._forward(body)

    def start(self) -> PublicNode:
        self.anvil.start()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                out = proxy.handle(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="public-node-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.anvil.stop()

    def __enter__(self) -> PublicNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def anvil_rpc(self, method: str, *params: Any) -> Any:
        """A call straight to anvil (the test's stage directions: automine, mining, dropping)."""
        out = json.loads(
            self._forward(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode())
        )
        if "error" in out:
            raise RuntimeError(f"{method}: {out['error']}")
        return out["result"]
