"""Write dreamer/data/layers.json: every registered model's layer names, from its architecture.

Run it after adding a registered model or changing an architecture (or when
a new Keras renames layers); ``tests/test_catalog.py`` fails until you do:

    python scripts/generate_layer_names.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from dreamer.fileio import atomic_path  # noqa: E402
from dreamer.models.catalog import DATA_FILE, to_json  # noqa: E402
from dreamer.models.catalog_build import generate  # noqa: E402


def main() -> None:
    target = ROOT / "dreamer" / "data" / DATA_FILE
    data = generate()
    with atomic_path(target) as tmp:
        tmp.write_text(to_json(data), encoding="utf-8")
    counts = ", ".join(f"{name} {len(entry['layers'])}" for name, entry in data["models"].items())
    print(f"wrote {target} (Keras {data['keras']}): {counts}")


if __name__ == "__main__":
    main()
