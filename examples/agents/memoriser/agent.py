"""The memoriser: an agent that has learned the answers instead of how to find them.

memory.json maps the sha256 of each shipped task's instruction to that task's gold patch. It
is not committed: `cargo run --example memoriser_memory` builds it from the shipped sets (and
the memorisation test builds its own). On a task it has seen, the agent applies the
remembered patch to /repo; on any other task it has nothing to offer and leaves /repo alone.
That is exactly what fresh tasks per epoch are for (docs/scoring.md, "Epochs"): a fixed set
rewards this agent with a perfect score, a freshly generated one with nothing.
"""

import hashlib
import json
import os
import subprocess
import sys

MEMORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "memory.json")


def main() -> int:
    repo = os.environ.get("WHETSTONE_REPO", "/repo")
    # The file holds the instruction byte for byte, as the memory was keyed.
    with open(os.environ.get("WHETSTONE_INSTRUCTION_FILE", "/task/instruction.md"), encoding="utf-8") as handle:
        instruction = handle.read()
    try:
        with open(MEMORY, encoding="utf-8") as handle:
            memory = json.load(handle)
    except FileNotFoundError:
        print("memoriser: no memory.json next to agent.py; build it with `cargo run --example memoriser_memory`")
        return 0
    key = hashlib.sha256(instruction.encode("utf-8")).hexdigest()
    patches = memory.get("patches", {}).get(key)
    if not patches:
        print(f"memoriser: never saw this task ({len(memory.get('patches', {}))} instructions memorised); leaving the repository alone")
        return 0
    # Tasks can share an instruction; the right patch is the one that fits this repository.
    for patch in patches:
        data = patch.encode("utf-8")
        check = subprocess.run(["git", "apply", "--check", "-"], cwd=repo, input=data, capture_output=True)
        if check.returncode == 0:
            subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=repo, input=data, check=True)
            print("memoriser: replayed the remembered gold patch")
            return 0
    print(f"memoriser: none of the {len(patches)} remembered patches for this instruction applies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
