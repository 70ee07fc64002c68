"""What every DVC stage script shares: errors a user can cause end the stage with one clear line."""

from __future__ import annotations

import sys
from collections.abc import Callable

from nmt.errors import UserError


def run_stage(main: Callable[[], int]) -> int:
    try:
        return main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
