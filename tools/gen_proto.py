"""Generate mlspec/_proto from proto/mlspec/v1/*.proto.

The generated modules are committed so that users need no protobuf compiler. The protoc that
ships inside grpcio-tools (pinned in the dev extra) does the work, so every machine produces
byte-identical output and CI can fail on any drift (`--check`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_DIR = PROTO_ROOT / "mlspec" / "v1"
OUT_DIR = ROOT / "mlspec" / "_proto"

INIT_TEXT = '"""Generated protobuf modules for the mlspec schema. Do not edit: run tools/gen_proto.py."""\n'

# protoc names imports after the proto package path (mlspec.v1); the modules live in
# mlspec._proto instead.
_IMPORT_RE = re.compile(r"^from mlspec\.v1 import ", re.MULTILINE)


def generate(out_dir: Path) -> None:
    from grpc_tools import protoc  # noqa: PLC0415 (dev-only dependency, needed only here)

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_DIR.glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTO_ROOT}", f"--python_out={tmp}", f"--pyi_out={tmp}", *protos]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for generated in sorted((Path(tmp) / "mlspec" / "v1").iterdir()):
            text = _IMPORT_RE.sub("from mlspec._proto import ", generated.read_text())
            (out_dir / generated.name).write_text(text)
    (out_dir / "__init__.py").write_text(INIT_TEXT)


def differences(expected_dir: Path, actual_dir: Path) -> list[str]:
    expected = {p.name: p.read_bytes() for p in expected_dir.iterdir() if p.is_file()}
    actual = {p.name: p.read_bytes() for p in actual_dir.iterdir() if p.is_file()}
    return sorted(name for name in expected.keys() | actual.keys() if expected.get(name) != actual.get(name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files are stale")
    args = parser.parse_args()
    if not args.check:
        if OUT_DIR.exists():
            shutil.rmtree(OUT_DIR)
        generate(OUT_DIR)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_proto"
        generate(fresh)
        stale = differences(fresh, OUT_DIR)
    if stale:
        print(f"mlspec/_proto is stale; run tools/gen_proto.py. Differs: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
