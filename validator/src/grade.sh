#!/bin/sh
# Grading script, run as the container's only process. Applies the patch (strict first, then
# a fuzzy fallback), overlays the hidden tests, runs the test command with the validator's own
# JUnit path, and leaves everything the grader reads in /grading/out.
set -u
out=/grading/out
cd /repo || exit 90

if [ ! -s /grading/patch.diff ]; then
    echo empty > "$out/apply_mode"
elif git apply --check /grading/patch.diff > "$out/apply.log" 2>&1; then
    git apply /grading/patch.diff >> "$out/apply.log" 2>&1 && echo strict > "$out/apply_mode"
elif patch -p1 --batch --forward --fuzz=3 --no-backup-if-mismatch -r - < /grading/patch.diff >> "$out/apply.log" 2>&1; then
    echo fuzzy > "$out/apply_mode"
else
    echo failed > "$out/apply_mode"
    exit 0
fi

if [ -d /grading/hidden ]; then
    cp -R /grading/hidden/. /repo/ || exit 91
fi

# The validator's configuration, not the repository's: no plugin autoloading, no bytecode.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 PYTHONDONTWRITEBYTECODE=1
timeout -s KILL "$WHETSTONE_TEST_TIMEOUT" sh -c "$WHETSTONE_TEST_COMMAND --junitxml=$out/junit.xml" > "$out/test.log" 2>&1
echo $? > "$out/test_exit"
