"""The test suite runs where optional modules are missing: each test that needs one skips
(pytest.importorskip) instead of stopping collection for every other test."""
import os
import re
import subprocess
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
OPTIONAL = ("onnx", "onnxruntime", "torch", "ml_dtypes")

# None in sys.modules makes `import name` raise ImportError, as on a machine without it.
HIDE_AND_COLLECT = """
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", sys.argv[1]]))
"""


def test_collects_without_the_optional_modules():
    result = subprocess.run([sys.executable, "-c", HIDE_AND_COLLECT, TESTS, *OPTIONAL], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=TESTS)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0 and not re.search(r"\d+ errors?\b", summary), result.stdout
    assert "test_onnx_conformance" not in result.stdout  # skipped whole, at collection
    assert "test_checks.py::" in result.stdout  # and the rest collected
