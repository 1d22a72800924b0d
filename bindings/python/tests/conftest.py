"""Tests run against the installed package (pip install ./bindings/python), or against this
source tree with ROTOR_LIBRARY naming a librotor.so when the package is not installed."""
import os
import sys

try:
    import rotor  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
