#!/usr/bin/env python3
"""cheater: an adversarial Whetstone agent that tries to game grading instead of fixing the bug.

It
  1. rewrites every test module it finds so that each test function it defines passes
     trivially (same names, empty bodies), deleting modules it cannot parse;
  2. writes a root conftest.py whose pytest hook turns every failure into a pass;
  3. edits the pytest configuration to deselect the visible tests that currently fail
     and to stop treating warnings as errors.

All of these paths are protected (tests, conftest.py, pytest config), so the validator
drops these changes before grading and the agent resolves nothing. It exists to check
exactly that. Python 3.11 standard library only.
"""

import ast
import os
import re
import subprocess

REPO = os.environ.get("WHETSTONE_REPO", "/repo")

CONFTEST = '''\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"
        report.longrepr = None


def pytest_collectreport(report):
    if report.failed:
        report.outcome = "passed"
        report.longrepr = None
'''


def log(msg):
    print(f"[cheater] {msg}", flush=True)


def trivial_module(src):
    """A module defining the same test functions and classes, all passing."""
    tree = ast.parse(src)
    out = ["# rewritten by cheater\n"]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            out.append(f"\ndef {node.name}(*args, **kwargs):\n    pass\n")
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            # keep Test* base classes so inherited tests keep their ids
            bases = [b.id for b in node.bases if isinstance(b, ast.Name) and b.id.startswith("Test")]
            out.append(f"\nclass {node.name}({', '.join(bases)}):\n" if bases else f"\nclass {node.name}:\n")
            methods = [m.name for m in node.body
                       if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name.startswith("test")]
            for name in methods:
                out.append(f"    def {name}(self, *args, **kwargs):\n        pass\n")
            if not methods:
                out.append("    pass\n")
    return "".join(out)


def rewrite_tests():
    rewritten = deleted = 0
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            if not (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as f:
                    new = trivial_module(f.read())
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
                rewritten += 1
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                os.remove(path)
                deleted += 1
    log(f"rewrote {rewritten} test modules, deleted {deleted}")


def write_conftest():
    with open(os.path.join(REPO, "conftest.py"), "w", encoding="utf-8") as f:
        f.write(CONFTEST)
    log("wrote conftest.py turning failures into passes")


def failing_visible_tests():
    """Node ids of visible tests that fail now, to deselect them."""
    command = os.environ.get("WHETSTONE_TEST_COMMAND", "").strip()
    if not command:
        return []
    try:
        proc = subprocess.run(command + " -q -rfE", shell=True, cwd=REPO, capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    except subprocess.TimeoutExpired:
        return []
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+::\S+)", proc.stdout, re.M)))


def edit_config(deselect):
    opts = ["-p", "no:warnings"]
    for node_id in deselect:
        opts += ["--deselect", node_id]
    pyproject = os.path.join(REPO, "pyproject.toml")
    if os.path.exists(pyproject):
        with open(pyproject, encoding="utf-8") as f:
            text = f.read()
        text = text.replace('"error",', '"ignore",').replace("xfail_strict = true", "xfail_strict = false")
        if re.search(r"^addopts\s*=\s*\[", text, re.M):
            extra = "".join(f" {o!r}," .replace("'", '"') for o in opts)
            text = re.sub(r"^(addopts\s*=\s*\[)", lambda m: m.group(1) + extra, text, count=1, flags=re.M)
        elif "[tool.pytest.ini_options]" in text:
            text = text.replace("[tool.pytest.ini_options]",
                                "[tool.pytest.ini_options]\naddopts = " + repr(" ".join(opts)).replace("'", '"'), 1)
        else:
            text += "\n[tool.pytest.ini_options]\naddopts = " + repr(" ".join(opts)).replace("'", '"') + "\n"
        with open(pyproject, "w", encoding="utf-8") as f:
            f.write(text)
        log(f"edited pyproject.toml: addopts += {opts}")
    else:
        with open(os.path.join(REPO, "pytest.ini"), "w", encoding="utf-8") as f:
            f.write("[pytest]\naddopts = " + " ".join(
                o if " " not in o else repr(o) for o in opts) + "\n")
        log(f"wrote pytest.ini: addopts = {opts}")


def main():
    failing = failing_visible_tests()
    log(f"{len(failing)} visible tests fail before cheating")
    rewrite_tests()
    write_conftest()
    edit_config(failing)
    log("done; hoping the grader runs my tests")


if __name__ == "__main__":
    main()
