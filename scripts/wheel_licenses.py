"""Add the license texts of the shared libraries auditwheel vendored into a wheel.

    python scripts/wheel_licenses.py WHEEL

`auditwheel repair` copies libraries such as GMP and MPFR (LGPL) into
``alkahest.libs/`` under hashed names but not their licenses. For each one this
finds the Debian package that owns the original library (``dpkg -S``) and adds
``/usr/share/doc/<package>/copyright`` to the wheel as
``<dist-info>/licenses/vendored/<package>.copyright``, with the full license
texts it refers to (``/usr/share/common-licenses/LGPL-3``, ...), updating RECORD. Fails if
a vendored library's package or copyright file cannot be found, so a wheel
never ships a library without its license.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile


def owner(lib: str) -> str:
    """The Debian package that owns the original of a vendored library name."""
    m = re.fullmatch(r"(lib[^-/]+)-[0-9a-f]{8}(\.so.*)", lib)
    if not m:
        raise SystemExit(f"unexpected vendored library name {lib!r}")
    out = subprocess.run(
        ["dpkg", "-S", f"*/{m.group(1)}{m.group(2)}"], capture_output=True, text=True, check=True
    ).stdout
    return out.split(":", 1)[0].strip()


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(wheel: str) -> int:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        libs = [n.split("/", 1)[1] for n in names if re.match(r"[^/]+\.libs/.+", n)]
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        dist_info = record.rsplit("/", 1)[0]
        added = {}
        for lib in libs:
            pkg = owner(lib)
            path = f"/usr/share/doc/{pkg}/copyright"
            with open(path, "rb") as f:
                text = f.read()
            added[f"{dist_info}/licenses/vendored/{pkg}.copyright"] = text
            # Debian's copyright files refer to full texts kept elsewhere.
            for ref in sorted(
                set(re.findall(rb"/usr/share/common-licenses/([A-Za-z0-9.+-]+[A-Za-z0-9])", text))
            ):
                with open(f"/usr/share/common-licenses/{ref.decode()}", "rb") as f:
                    added[f"{dist_info}/licenses/vendored/{ref.decode()}"] = f.read()
        added = {k: v for k, v in added.items() if k not in names}  # idempotent
        if not added:
            return 0
        fd, tmp = tempfile.mkstemp(suffix=".whl", dir=os.path.dirname(os.path.abspath(wheel)))
        os.close(fd)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
            for info in z.infolist():
                if info.filename == record:
                    continue
                out.writestr(info, z.read(info.filename))
            lines = z.read(record).decode().splitlines()
            lines = [ln for ln in lines if ln and not ln.startswith(f"{record},")]
            for name, data in added.items():
                out.writestr(name, data)
                lines.append(record_line(name, data))
            lines.append(f"{record},,")
            out.writestr(record, "\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)  # mkstemp made it private
    os.replace(tmp, wheel)
    for name in added:
        print(f"added {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
