"""Copy the .onnx models shipped inside downloaded wheels into the corpus, byte for byte.

rapidocr-onnxruntime ships PaddleOCR's text detector, text-direction classifier and text
recogniser as paddle2onnx wrote them; they are used exactly as shipped (no run of rapidocr).

Usage: extract_wheels.py WHEEL_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

# The file name inside the wheel's models/ folder -> (corpus name, feed at batch 2, classifier kind).
SHIPPED = {
    "ch_PP-OCRv4_det_infer.onnx": ("paddleocr_det", [2, 3, 64, 64], ""),
    "ch_ppocr_mobile_v2.0_cls_infer.onnx": ("paddleocr_cls", [2, 3, 48, 192], "probabilities"),
    "ch_PP-OCRv4_rec_infer.onnx": ("paddleocr_rec", [2, 3, 48, 160], ""),
}


def main() -> None:
    wheels, out = Path(sys.argv[1]), Path(sys.argv[2])
    found: set[str] = set()
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                entry = SHIPPED.get(Path(member).name)
                if entry is None:
                    continue
                name, shape, classifier = entry
                (out / f"{name}.onnx").write_bytes(archive.read(member))
                sidecar = {
                    "source": f"{wheel.name}: {member}, as shipped",
                    "feeds": [{"name": "x", "dtype": "float32", "shape": shape}],
                    "classifier": classifier,
                }
                (out / f"{name}.json").write_text(json.dumps(sidecar, indent=1))
                found.add(Path(member).name)
    missing = sorted(set(SHIPPED) - found)
    if missing:
        raise SystemExit(f"extract_wheels: {', '.join(missing)} not found in {wheels}")
    print(f"extracted {len(found)} shipped models", flush=True)


if __name__ == "__main__":
    main()
