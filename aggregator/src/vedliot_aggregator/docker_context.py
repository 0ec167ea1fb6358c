"""Docker contexts by name, read from the Docker CLI's own store, as `docker context use` would.

docker-py's ContextAPI finds the store only next to a ~/.docker/config.json, which `docker context
create` does not write: a context `docker context ls` lists was "no such context" to it. The
CLI's layout (Docker 20.10 to 28, tests/data/docker-context):

    $DOCKER_CONFIG (default ~/.docker)/contexts/meta/<sha256 of the name>/meta.json
        {"Name": ..., "Endpoints": {"docker": {"Host": "ssh://...", "SkipTLSVerify": false}}}
    .../contexts/tls/<sha256 of the name>/docker/{ca.pem, cert.pem, key.pem}   (when given)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


class ContextError(ValueError):
    pass


@dataclass(frozen=True)
class Context:
    name: str
    host: str
    skip_tls_verify: bool = False
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def store() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "contexts"


def find(name: str) -> Context:
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta = store() / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        endpoint = data["Endpoints"]["docker"]
        host = endpoint["Host"]
    except FileNotFoundError:
        raise ContextError(f"{name}: no such Docker context in {store()} (docker context ls)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ContextError(f"{name}: cannot read its Docker context ({meta}: {exc})") from None
    tls = store() / "tls" / digest / "docker"

    def pem(file: str) -> Path | None:
        return tls / file if (tls / file).is_file() else None

    return Context(name, host, bool(endpoint.get("SkipTLSVerify")), pem("ca.pem"), pem("cert.pem"), pem("key.pem"))


def client_options(context: Context) -> dict:
    """docker.DockerClient keyword arguments for the context (TLS when the store holds certificates)."""
    options: dict = {"base_url": context.host}
    if context.host.startswith("tcp://") and (context.ca or context.cert):
        from docker.tls import TLSConfig

        certificate = (str(context.cert), str(context.key)) if context.cert and context.key else None
        verify = False if context.skip_tls_verify else (str(context.ca) if context.ca else True)
        options["tls"] = TLSConfig(client_cert=certificate, ca_cert=str(context.ca) if context.ca else None,
                                   verify=verify)  # fmt: skip
    return options
