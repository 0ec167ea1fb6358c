"""A RECS|Box node's power through the RECS management REST interface, polled at its 1 Hz.

No public document gives the interface the report used (D3.3 only says the WebGUI's 1 Hz power
measurement is "available remotely via REST"). The default follows Christmann's published RECS
Redfish schema (christmann/recs-redfish-api): GET {url}/redfish/v1/Chassis/{node}/Power, JSON,
PowerControl[0].PowerConsumedWatts in W, HTTP Basic credentials from $RECS_USER and
$RECS_PASSWORD. `path=` and `field=` adapt it to another firmware: `field` is a dotted path into
JSON (numbers index lists) or, for an XML answer, the name of the attribute holding watts. The
same answer comes from other Redfish BMCs (Dell iDRAC: node=System.Embedded.1, HPE iLO: node=1).

Over HTTPS the certificate is checked against the system's CAs; BMCs ship a self-signed one, so
`ca=PATH` names the CA (or the certificate itself) to trust, and `verify=false` skips the check:
the record says which, and the report warns about an unverified one.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import ssl
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from typing import List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns

DEFAULT_PATH = "/redfish/v1/Chassis/{node}/Power"
DEFAULT_FIELD = "PowerControl.0.PowerConsumedWatts"


def extract_watts(body: bytes, field: str) -> float:
    """The watts `field` names in a JSON or XML answer (ValueError if absent)."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        root = ElementTree.fromstring(text)
        for element in root.iter():
            if field in element.attrib:
                return float(element.attrib[field])
        raise ValueError("no attribute {!r} in the XML answer".format(field))
    value = json.loads(text)
    for key in field.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return float(value)


def _url_text(text: str) -> Optional[str]:
    return None if text.startswith(("http://", "https://")) else "expected an http:// or https:// URL"


def _path_text(text: str) -> Optional[str]:
    try:
        text.format(node="Chassis1")
    except (KeyError, IndexError, ValueError) as exc:
        return "only {{node}} may appear in braces ({}: {})".format(type(exc).__name__, exc)
    return None


@dataclasses.dataclass(frozen=True)
class RecsOptions(PowerOptions):
    url: Optional[str] = option(
        None, "base URL of the RECS management (e.g. http://recs-master); required", check=_url_text
    )
    node: str = option("Chassis1", "node (chassis) id in the URL")
    path: str = option(DEFAULT_PATH, "URL path, {node} replaced", check=_path_text)
    field: str = option(DEFAULT_FIELD, "where the watts are: dotted JSON path or XML attribute")
    timeout_s: float = option(2.0, "HTTP timeout in seconds", minimum=0.01, maximum=600)
    ca: Optional[str] = option(None, "HTTPS: PEM file of the CA (or the BMC's own certificate) to trust")
    verify: bool = option(True, "HTTPS: false skips the certificate check (recorded, and warned about)")


def _tls(opts: RecsOptions) -> Optional[ssl.SSLContext]:
    if not (opts.url or "").startswith("https://"):
        return None
    if not opts.verify:
        return ssl._create_unverified_context()
    try:
        return ssl.create_default_context(cafile=opts.ca)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError("--power recs:ca={}: not a readable PEM certificate ({})".format(opts.ca, exc)) from None


class RecsSource(PowerSource):
    name = "recs"
    Options = RecsOptions
    default_interval_s = 1.0

    def __init__(self, options=None) -> None:
        super().__init__(options)
        opts = self.options
        if not opts.url:
            raise UsageError("--power recs needs url=http://HOST (the RECS management interface)")
        self.url = opts.url.rstrip("/") + opts.path.format(node=opts.node)
        self.field = opts.field
        self.timeout = opts.timeout_s
        self.context = _tls(opts)
        self.headers = {"Accept": "application/json, application/xml"}
        user, password = os.environ.get("RECS_USER"), os.environ.get("RECS_PASSWORD")
        if user:
            token = base64.b64encode("{}:{}".format(user, password or "").encode()).decode()
            self.headers["Authorization"] = "Basic " + token

    def _get(self) -> float:
        request = urllib.request.Request(self.url, headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as answer:
            return extract_watts(answer.read(), self.field)

    def open(self) -> None:
        try:
            self._get()
        except urllib.error.HTTPError as exc:
            hint = " (set RECS_USER and RECS_PASSWORD)" if exc.code in (401, 403) else ""
            raise UsageError("--power recs: {} answered HTTP {}{}".format(self.url, exc.code, hint)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise UsageError(
                    "--power recs: {}'s certificate is not trusted ({}); give its CA with recs:ca=PATH, "
                    "or skip the check with recs:verify=false".format(self.url, reason.verify_message or reason)
                ) from None
            raise UsageError("--power recs: cannot reach {} ({})".format(self.url, reason)) from None
        except (ValueError, KeyError, IndexError, TypeError, ElementTree.ParseError) as exc:
            raise UsageError(
                "--power recs: no watts at field={} in {}'s answer ({}); set field=".format(self.field, self.url, exc)
            ) from None
        self.rails = ["node"]
        self.summed = ["node"]
        self.details = {"url": self.url, "field": self.field, "authenticated": "Authorization" in self.headers}
        if self.context is not None:
            opts = self.options
            self.details["tls"] = (
                "not verified (verify=false)"
                if not opts.verify
                else "verified with " + ("ca={}".format(opts.ca) if opts.ca else "the system's CAs")
            )

    def poll(self) -> List[Reading]:
        try:
            watts = self._get()
        except Exception as exc:  # noqa: BLE001 - any failed poll is a sensor error; the run goes on
            raise SensorError("RECS {}: {}".format(self.url, exc)) from None
        return [(now_ns(), (watts,))]
