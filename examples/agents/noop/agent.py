#!/usr/bin/env python3
"""noop: a Whetstone agent that changes nothing (the empty patch)."""
import os

print(f"[noop] leaving {os.environ.get('WHETSTONE_REPO', '/repo')} unchanged", flush=True)
