"""Copy the design system's built files from npm's node_modules into web/static/vendor.

Run by `make install` after `npm ci` (web/frontend/package.json pins the versions); the
copies are not committed. `python -m web.assets` to refresh them by hand.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
NODE_MODULES = HERE / "frontend" / "node_modules"
VENDOR = HERE / "static" / "vendor"

COPIES = {
    "govuk-frontend/dist/govuk/govuk-frontend.min.css": "govuk/govuk-frontend.min.css",
    "govuk-frontend/dist/govuk/govuk-frontend.min.js": "govuk/govuk-frontend.min.js",
    "govuk-frontend/dist/govuk/assets": "govuk/assets",
    "@ministryofjustice/frontend/moj/moj-frontend.min.css": "moj/moj-frontend.min.css",
    "@ministryofjustice/frontend/moj/moj-frontend.min.js": "moj/moj-frontend.min.js",
    "@ministryofjustice/frontend/moj/assets": "moj/assets",
    "axe-core/axe.min.js": "axe/axe.min.js",  # for the accessibility tests only
}


def installed() -> bool:
    return all((VENDOR / target).exists() for target in COPIES.values())


def main() -> int:
    missing = [source for source in COPIES if not (NODE_MODULES / source).exists()]
    if missing:
        print("Front-end packages are missing; run `make install` (it runs npm ci in "
              f"web/frontend). Missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    for source, target in COPIES.items():
        src, dst = NODE_MODULES / source, VENDOR / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    print(f"Copied the GOV.UK and MoJ Frontend assets into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
