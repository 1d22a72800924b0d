"""bindings/check_header.py passes on the bindings as they are and fails on drifted copies."""
import os
import subprocess
import sys

BINDINGS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(BINDINGS, "check_header.py")
CAPI = os.path.join(BINDINGS, "python", "src", "rotor", "_capi.py")
SYS = os.path.join(BINDINGS, "rust", "rotor-sys", "src", "lib.rs")
HEADER = os.path.join(BINDINGS, "..", "include", "rotor", "rotor.h")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], stdout=subprocess.PIPE, text=True)


def drifted(tmp_path, path, old, new):
    text = open(path).read()
    assert old in text
    copy = tmp_path / os.path.basename(path)
    copy.write_text(text.replace(old, new, 1))
    return str(copy)


def test_the_python_binding_matches_the_header():
    result = run("--only", "python")
    assert result.returncode == 0, result.stdout


def test_the_rust_binding_matches_the_header():
    result = run("--only", "rust")
    assert result.returncode == 0, result.stdout


def test_constants_are_compared_both_ways(tmp_path):
    """The header's integer #defines, which both bindings hard-code: a value that drifts, a
    constant a binding lacks, and one the header does not define are each reported."""
    cases = [
        ("python", CAPI, '"ROTOR_ARENA_ALIGNMENT": 64', '"ROTOR_ARENA_ALIGNMENT": 32', "ROTOR_ARENA_ALIGNMENT"),
        ("python", CAPI, '"ROTOR_VERSION_MINOR": 3', '"ROTOR_VERSION_MINOR": 2', "ROTOR_VERSION_MINOR"),
        ("python", CAPI, '"ROTOR_EPOCH_HISTORY": 16', '"ROTOR_EPOCH_HISTORY": 16, "ROTOR_EXTRA": 1', "ROTOR_EXTRA"),
        ("rust", SYS, "ROTOR_EPOCH_HISTORY: u64 = 16", "ROTOR_EPOCH_HISTORY: u64 = 8", "ROTOR_EPOCH_HISTORY"),
        ("rust", SYS, "ROTOR_MAX_AXES_ROTARY_DIM: u32 = 1024", "ROTOR_MAX_AXES_ROTARY_DIM: u32 = 0x400_0",
         "ROTOR_MAX_AXES_ROTARY_DIM"),
        ("rust", SYS, "pub const ROTOR_ARENA_ALIGNMENT", "pub const ROTOR_ARENA_ALIGN", "ROTOR_ARENA_ALIGN"),
    ]
    for only, path, old, new, named in cases:
        result = run("--only", only, f"--{only}", drifted(tmp_path, path, old, new))
        assert result.returncode == 1 and named in result.stdout, (old, result.stdout)
    # A constant the header gains is missing from both bindings.
    header = drifted(tmp_path, HEADER, "#define ROTOR_EPOCH_HISTORY 16\n",
                     "#define ROTOR_EPOCH_HISTORY 16\n#define ROTOR_NEW_LIMIT (8u)\n")
    result = run("--header", header)
    assert result.returncode == 1 and "python: DEFINES['ROTOR_NEW_LIMIT']" in result.stdout, result.stdout
    assert "rust: ROTOR_NEW_LIMIT" in result.stdout, result.stdout


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
        # rotor 1.2's additions: an appended config field, the tensor's named padding, the
        # functions and the status.
        ("--python", CAPI, '("factor_count", c_uint32), ', "", "rotor_config"),
        ("--python", CAPI, '[("reserved_0", c_uint32)] if _64_BIT else []', "[]", "rotor_tensor"),
        ("--python", CAPI, '"rotor_preset_name": (_status, [c_uint32, POINTER(c_char_p)]),\n', "", "rotor_preset_name"),
        ("--python", CAPI, '"rotor_last_error_message": (c_char_p, []),\n', "", "rotor_last_error_message"),
        ("--python", CAPI, '"ROTOR_ERR_INTERNAL": 7,', "", "rotor_status"),
        ("--rust", SYS, "pub factor_count: u32,\n", "", "rotor_config"),
        # rotor 1.3's KV cache config: the sized struct, its functions, the cache-only dtypes.
        ("--python", CAPI, ', ("flags", c_uint32)]', "]", "rotor_kv_cache_config"),
        ("--python", CAPI, '"ROTOR_DTYPE_Q4_0": 4,', "", "rotor_dtype"),
        ("--rust", SYS, "pub flags: u32,\n", "", "rotor_kv_cache_config"),
        ("--rust", SYS, "c: *const rotor_kv_cache_config, arena: *mut c_void", "c: *const rotor_kv_cache_config",
         "rotor_kv_cache_init_ex"),
    ]
    for flag, path, old, new, named in cases:
        result = run("--only", flag[2:], flag, drifted(tmp_path, path, old, new))
        assert result.returncode == 1 and named in result.stdout, (old, result.stdout)
