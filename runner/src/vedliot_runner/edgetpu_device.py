"""The Edge TPUs a host has and the runtime that drives them, read through libedgetpu's C API
(edgetpu_c.h: edgetpu_list_devices, edgetpu_free_devices, edgetpu_version) and dpkg.

libedgetpu ships as two Debian packages built from one source, libedgetpu1-std (the default clock)
and libedgetpu1-max (the maximum clock: faster, hotter); which one is installed changes every
number, and only the package database says which, so the record names it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import subprocess
from typing import List, Optional, Tuple

#: edgetpu_c.h: enum edgetpu_device_type
DEVICE_TYPES = {0: "pci", 1: "usb"}
PACKAGES = ("libedgetpu1-std", "libedgetpu1-max", "libedgetpu1-legacy-std", "libedgetpu1-legacy-max")


class _Device(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("path", ctypes.c_char_p)]


@dataclasses.dataclass(frozen=True)
class EdgeTpu:
    kind: str  # usb | pci
    path: str  # /sys/bus/usb/devices/2-1, /dev/apex_0

    def option(self, index: int) -> str:
        """The delegate's `device` value that names it (pycoral: "usb:N" counts USB TPUs only)."""
        return "{}:{}".format(self.kind, index)


@dataclasses.dataclass(frozen=True)
class Runtime:
    library: str
    #: edgetpu_version(), e.g. "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted), RuntimeVersion(14)"
    version: Optional[str]
    devices: Tuple[EdgeTpu, ...]


def open_runtime(library: str) -> Runtime:
    """The runtime `library` names and the TPUs it sees (OSError if it cannot be loaded)."""
    lib = ctypes.CDLL(library)
    lib.edgetpu_version.restype = ctypes.c_char_p
    lib.edgetpu_list_devices.restype = ctypes.POINTER(_Device)
    lib.edgetpu_list_devices.argtypes = [ctypes.POINTER(ctypes.c_size_t)]
    lib.edgetpu_free_devices.argtypes = [ctypes.POINTER(_Device)]
    version = lib.edgetpu_version()
    count = ctypes.c_size_t(0)
    array = lib.edgetpu_list_devices(ctypes.byref(count))
    devices = []
    if array:
        for i in range(count.value):
            kind = DEVICE_TYPES.get(array[i].type, str(array[i].type))
            devices.append(EdgeTpu(kind, (array[i].path or b"").decode("utf-8", "replace")))
        lib.edgetpu_free_devices(array)
    return Runtime(library, version.decode("utf-8", "replace") if version else None, tuple(devices))


def runtime_number(version: Optional[str]) -> Optional[str]:
    """ "RuntimeVersion(14)" -> "14"."""
    if not version or "RuntimeVersion(" not in version:
        return None
    return version.split("RuntimeVersion(", 1)[1].split(")", 1)[0]


def select(devices: Tuple[EdgeTpu, ...], wanted: Optional[str]) -> Optional[EdgeTpu]:
    """The TPU the delegate's `device` option picks, as libedgetpu reads it: None or "" any,
    "usb"/"pci" the first of that kind, "usb:N"/"pci:N" the N-th of that kind, ":N" the N-th."""
    if not wanted:
        return devices[0] if devices else None
    kind, _, index = wanted.partition(":")
    pool = [d for d in devices if not kind or d.kind == kind]
    n = int(index) if index else 0
    return pool[n] if n < len(pool) else None


def check_device_option(text: str) -> Optional[str]:
    kind, colon, index = text.partition(":")
    if kind not in ("usb", "pci", "") or (colon and not index.isdigit()) or (not kind and not colon):
        return "expected usb, usb:N, pci, pci:N or :N"
    return None


def installed_package() -> Tuple[Optional[str], Optional[str]]:
    """(package, version) of the libedgetpu1-* package installed, or (None, None) where dpkg has
    none (a library copied in by hand, or no dpkg)."""
    try:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n", *PACKAGES],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    found = parse_dpkg_query(proc.stdout)
    return found[0] if found else (None, None)


def parse_dpkg_query(text: str) -> List[Tuple[str, str]]:
    """Installed packages from `dpkg-query -W -f '${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'`
    ("ii " is installed; a known but removed package prints an empty version and "un ")."""
    found = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].startswith("ii"):
            found.append((parts[0], parts[1]))
    return found


def clock(package: Optional[str]) -> Optional[str]:
    if not package:
        return None
    return "max" if package.endswith("-max") else "std" if package.endswith("-std") else None
