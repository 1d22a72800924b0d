"""bindings/check_header.py passes on the bindings as they are and fails on drifted copies."""
import os
import subprocess
import sys

BINDINGS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(BINDINGS, "check_header.py")
CAPI = os.path.join(BINDINGS, "python", "src", "rotor", "_capi.py")
SYS = os.path.join(BINDINGS, "rust", "rotor-sys", "src", "lib.rs")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], stdout=subprocess.PIPE, text=True)


def drifted(tmp_path, path, old, new):
    text = open(path).read()
    assert old in text
    copy = tmp_path / os.path.basename(path)
    copy.write_text(text.replace(old, new, 1))
    return str(copy)


def test_the_bindings_match_the_header():
    result = run()
    assert result.returncode == 0, result.stdout


def test_drift_is_caught(tmp_path):
    cases = [
        ("--python", CAPI, '"ROTOR_ERR_RESCALED": 6', '"ROTOR_ERR_RESCALED": 7', "ROTOR_ERR_RESCALED"),
        ("--python", CAPI, '("reserved_0", c_uint32),\n        ("base"', '("base"', "rotor_config"),
        ("--python", CAPI, '"rotor_kv_cache_get_length": (_status, [_handle, POINTER(c_uint32)]),\n', "",
         "rotor_kv_cache_get_length"),
        ("--rust", SYS, "pub reserved_1: u32,\n", "", "rotor_config"),
        ("--rust", SYS, "cfg_size: usize, rotary_dim: u32)", "rotary_dim: u32)", "rotor_config_init_sized"),
        ("--rust", SYS, "ROTOR_GROWTH_MARGIN: rotor_growth = 3", "ROTOR_GROWTH_MARGIN: rotor_growth = 4",
         "ROTOR_GROWTH_MARGIN"),
        # Array fields keep their length: a scalar or a shorter array is a different layout.
        ("--rust", SYS, "pub mrope_section: [u32; 3],", "pub mrope_section: u32,", "rotor_config"),
        ("--python", CAPI, '("mrope_section", c_uint32 * 3)', '("mrope_section", c_uint32 * 2)', "mrope_section"),
        ("--python", CAPI, '"rotor_kv_cache_evict": (_status, [_handle, _handle, c_uint32, c_uint32, _handle]),\n',
         "", "rotor_kv_cache_evict"),
    ]
    for flag, path, old, new, named in cases:
        result = run("--only", flag[2:], flag, drifted(tmp_path, path, old, new))
        assert result.returncode == 1 and named in result.stdout, (old, result.stdout)
