"""Refresh ``cloud/skypilot-schema.json`` from an installed SkyPilot (``pip install skypilot``).

SkyPilot pulls in ~50 packages (a server stack: FastAPI, SQLAlchemy, Postgres drivers), too much
for the test extra, so CI validates ``cloud/sky.yaml`` against the JSON schemas SkyPilot itself
validates task files with, saved here; ``tests/test_cloud.py`` also runs SkyPilot's own parser
when SkyPilot is installed. Run this after upgrading SkyPilot:

    python cloud/update_sky_schema.py
"""

from __future__ import annotations

import json
from pathlib import Path

import sky
from sky.utils import schemas

OUT = Path(__file__).with_name("skypilot-schema.json")


def main() -> None:
    doc = {
        "$comment": f"JSON schemas of a SkyPilot task file, from skypilot {sky.__version__} "
                    "(sky.utils.schemas); regenerate with cloud/update_sky_schema.py",
        "skypilot_version": sky.__version__,
        "task": schemas.get_task_schema(),
        "resources": schemas.get_resources_schema(),
        "storage": schemas.get_storage_schema(),
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} (skypilot {sky.__version__})")


if __name__ == "__main__":
    main()
