"""One place that turns ``AzureWebJobsStorage`` into table, queue and blob clients.

Locally that is an Azurite connection string; in Azure it is identity-based (a user-assigned
managed identity via azure-identity). Queue clients encode messages as Base64 so the Functions
queue trigger (``messageEncoding: base64``) can read what we enqueue. Tables and queues are
created on first use, once per process. Retries are kept short: a worker has a time budget and
the queue redelivers anyway.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient

from shared.settings import StorageConfig

if TYPE_CHECKING:
    import requests
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient, QueueServiceClient

# Short, bounded SDK retries (the SDK default for tables is 10 tries / 120 s backoff).
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 3,
    "retry_backoff_factor": 0.4,
    "retry_backoff_max": 4,
    "connection_timeout": 5,
    "read_timeout": 30,
}


def environment_proxies() -> dict[str, str]:
    """The proxies the environment names (``HTTPS_PROXY`` ...), read once per process."""
    global _PROXIES
    if _PROXIES is None:
        import urllib.request

        _PROXIES = urllib.request.getproxies()
    return _PROXIES


_PROXIES: dict[str, str] | None = None


def http_session() -> requests.Session:
    """A pooled ``requests.Session`` for our external APIs: with no proxy in the environment it
    does not look for one on every request (``trust_env``: ~0.5 ms of CPU per call).

    It keeps no cookies: one pooled session serves the clients of every office and connection,
    so a Set-Cookie from one office's AFAS or Loket answer (an affinity cookie, a session id)
    must never go along on another's call. None of our APIs needs a cookie (bearer / AfasToken
    headers); a redirect within one request still carries its own cookies (requests copies
    them per request)."""
    import http.cookiejar

    import requests
    import requests.adapters

    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    pooled = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", pooled)
    session.mount("http://", pooled)
    if not environment_proxies():
        session.trust_env = False
    return session


class Storage:
    """Table, queue and blob clients for one storage account, created lazily and cached."""

    def __init__(
        self, config: StorageConfig, *, on_request: Callable[[Any], None] | None = None
    ) -> None:
        """``on_request``: called with every request the SDK sends (azure-core's
        ``raw_request_hook``, retries included): the bench counts storage round trips with it."""
        self._config = config
        self._options: dict[str, Any] = dict(_CLIENT_OPTIONS)
        if not environment_proxies():
            # requests reads the proxy variables from os.environ on every request (~0.5 ms of
            # CPU each, ~40 storage requests per job); with none set there is nothing to read.
            self._options["use_env_settings"] = False
        if on_request is not None:
            self._options["raw_request_hook"] = on_request
        self._lock = threading.Lock()
        self._tables: dict[str, TableClient] = {}
        self._queues: dict[str, QueueClient] = {}
        self._table_service: TableServiceClient | None = None
        self._queue_service: QueueServiceClient | None = None
        self._blob_service: BlobServiceClient | None = None
        self._credential: TokenCredential | None = None

    # -- services -------------------------------------------------------------------------
    def _token_credential(self) -> TokenCredential:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential  # heavy import: only in Azure

            self._credential = DefaultAzureCredential(
                managed_identity_client_id=self._config.managed_identity_client_id
            )
        return self._credential

    def table_service(self) -> TableServiceClient:
        with self._lock:
            if self._table_service is None:
                cfg = self._config
                if cfg.connection_string is not None:
                    self._table_service = TableServiceClient.from_connection_string(
                        cfg.connection_string.reveal(), **self._options
                    )
                else:
                    assert cfg.table_service_uri is not None
                    self._table_service = TableServiceClient(
                        cfg.table_service_uri,
                        credential=self._token_credential(),
                        **self._options,
                    )
            return self._table_service

    def queue_service(self) -> QueueServiceClient:
        # Imported on first use (~70 ms): an HTTP request that queues nothing never pays it.
        from azure.storage.queue import QueueServiceClient

        with self._lock:
            if self._queue_service is None:
                cfg = self._config
                if cfg.connection_string is not None:
                    self._queue_service = QueueServiceClient.from_connection_string(
                        cfg.connection_string.reveal(), **self._options
                    )
                else:
                    assert cfg.queue_service_uri is not None
                    self._queue_service = QueueServiceClient(
                        cfg.queue_service_uri,
                        credential=self._token_credential(),
                        **self._options,
                    )
            return self._queue_service

    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        with self._lock:
            if self._blob_service is None:
                cfg = self._config
                if cfg.connection_string is not None:
                    self._blob_service = BlobServiceClient.from_connection_string(
                        cfg.connection_string.reveal(), **self._options
                    )
                else:
                    if cfg.blob_service_uri is None:
                        raise RuntimeError("AzureWebJobsStorage__blobServiceUri is not set")
                    self._blob_service = BlobServiceClient(
                        cfg.blob_service_uri,
                        credential=self._token_credential(),
                        **self._options,
                    )
            return self._blob_service

    # -- resources ------------------------------------------------------------------------
    def table(self, name: str) -> TableClient:
        """A client for table ``name`` (alphanumeric), created on first use."""
        client = self._tables.get(name)
        if client is not None:
            return client
        service = self.table_service()
        with contextlib.suppress(ResourceExistsError):
            service.create_table(name)
        client = service.get_table_client(name)
        with self._lock:
            self._tables[name] = client
        return client

    def queue(self, name: str) -> QueueClient:
        """A Base64-encoding client for queue ``name``, created on first use."""
        client = self._queues.get(name)
        if client is not None:
            return client
        from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

        # The service client does not hand its encode policy to queue clients: set it here.
        client = self.queue_service().get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        with self._lock:
            self._queues[name] = client
        return client

    def ping(self) -> None:
        """Raise if the table service does not answer (used by /api/health)."""
        service = self.table_service()
        next(iter(service.list_tables(results_per_page=1).by_page()), None)
