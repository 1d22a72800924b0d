"""The package's own API: in place on the caller's memory, bit for bit the C library's results,
errors carrying their status, arenas, KV caches and attention, threads, torch tensors."""
import ctypes
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import rotor

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
rng = np.random.default_rng(15)


def test_every_status_is_named_and_carried_by_the_exception():
    assert [s.value for s in rotor.Status] == list(range(9))
    cases = [
        (rotor.Status.INVALID_ARGUMENT, lambda: rotor.Table(63)),
        (rotor.Status.OUT_OF_RANGE, lambda: rotor.Table(64, max_len=100).reserve(101)),
        (rotor.Status.OUT_OF_MEMORY, lambda: rotor.Table(64, max_len=1000, arena=rotor.aligned_buffer(4096))),
        (rotor.Status.INVALID_ARGUMENT, lambda: rotor.Table(preset="no-such-model")),
        (rotor.Status.INVALID_ARGUMENT, lambda: rotor.force_kernel("no-such-kernel")),
    ]
    for status, call in cases:
        with pytest.raises(rotor.RotorError) as raised:
            call()
        assert raised.value.status == status and isinstance(raised.value.status, rotor.Status)
        assert raised.value.reason == rotor.status_string(status) in str(raised.value)
        # The library's own reason (rotor_last_error_message), read on the failing thread.
        assert raised.value.detail and raised.value.detail in str(raised.value)


def test_last_error_message_is_the_failing_calls_reason_on_this_thread_only():
    with pytest.raises(rotor.RotorError) as raised:
        rotor.Table(63)
    assert raised.value.detail == rotor.last_error_message() and "odd" in raised.value.detail
    other = []

    def fail_elsewhere():
        try:
            rotor.Table(64, max_len=100).reserve(101)
        except rotor.RotorError:
            other.append(rotor.last_error_message())
    thread = threading.Thread(target=fail_elsewhere)
    thread.start()
    thread.join()
    assert other and other[0] != raised.value.detail
    assert rotor.last_error_message() == raised.value.detail  # thread-local: not the other thread's
    rotor.Table(64).close()
    assert rotor.last_error_message() == ""  # a call that succeeded


def test_apply_is_in_place_and_equals_apply_cos_sin_with_the_tables_rows_bit_for_bit():
    for pairing, d, r in (("half", 64, 64), ("interleaved", 96, 32)):
        table = rotor.Table(r, pairing=pairing, max_len=4096)
        cos, sin = table.cos_sin(0, 4000)
        pos = rng.integers(0, 4000, (2, 7))
        for dtype in (np.float32, np.float16, np.uint16):
            x = rng.uniform(-2, 2, (2, 7, 3, d)).astype(np.float32)
            x = x.view(np.uint32).astype(np.uint32) >> 16 if dtype is np.uint16 else x  # bf16 bits
            x = x.astype(np.uint16) if dtype is np.uint16 else x.astype(dtype)
            a, b = x.copy(), x.copy()
            address = a.ctypes.data
            assert table.apply(a, positions=pos) is a and a.ctypes.data == address
            rotor.apply_cos_sin(b, cos, sin, positions=pos, pairing=pairing, rotary_dim=r)
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
            assert not np.array_equal(a, x)


def test_strided_views_without_copies_and_refusals_instead_of_copies():
    table = rotor.Table(32)
    qkv = rng.standard_normal((2, 5, (4 + 2 * 2) * 32)).astype(np.float32)
    q = qkv[:, :, :4 * 32].reshape(2, 5, 4, 32)
    k = qkv[:, :, 4 * 32:6 * 32].reshape(2, 5, 2, 32)
    v_before = qkv[:, :, 6 * 32:].copy()
    q_want, k_want = table.apply_to(q, offset=3), table.apply_to(k, offset=3)
    table.apply_qk(q, k, offset=3)  # both inside one fused buffer
    np.testing.assert_array_equal(q, q_want)
    np.testing.assert_array_equal(k, k_want)
    np.testing.assert_array_equal(qkv[:, :, 6 * 32:], v_before)
    bhsd = rng.standard_normal((2, 3, 5, 32)).astype(np.float32)
    as_bshd = bhsd.transpose(0, 2, 1, 3)  # a non-contiguous view
    np.testing.assert_array_equal(table.apply_to(bhsd, layout="bhsd").transpose(0, 2, 1, 3),
                                  table.apply(as_bshd.copy()))
    # Negative strides (reversed seq, batch or heads): the same memory turned around, each token
    # at its own position, bit for bit the result of the copy.
    for index in ((slice(None), slice(None, None, -1)), (slice(None, None, -1),),
                  (slice(None), slice(None), slice(None, None, -1))):
        backwards = rng.standard_normal((2, 5, 3, 32)).astype(np.float32)
        want = table.apply(np.ascontiguousarray(backwards[index]), offset=4)
        np.testing.assert_array_equal(table.apply(backwards[index], offset=4), want)
        positions = rng.integers(0, 100, size=(2, 5))
        want = table.apply_to(np.ascontiguousarray(backwards[index]), positions=positions)
        np.testing.assert_array_equal(table.apply_to(backwards[index], positions=positions), want)
    with pytest.raises(ValueError, match="negative"):
        table.apply_to(as_bshd[:, ::-1], np.zeros((2, 5, 3, 32), np.float32))  # signs disagree
    with pytest.raises(ValueError, match="contiguous"):
        table.apply(np.zeros((1, 1, 2, 64), np.float32)[..., ::2])
    frozen = np.zeros((1, 1, 1, 32), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        table.apply(frozen)


def test_bfloat16_through_ml_dtypes_matches_uint16_bits():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    table = rotor.Table(64)
    x = rng.standard_normal((1, 4, 2, 64)).astype(ml_dtypes.bfloat16)
    bits = x.view(np.uint16).copy()
    table.apply(x, offset=9)
    table.apply(bits, offset=9)
    np.testing.assert_array_equal(x.view(np.uint16), bits)


def test_an_arena_table_equals_an_allocated_one_and_keeps_its_arena():
    fields = dict(preset="llama-3.1-8b", max_len=4096)
    arena = rotor.aligned_buffer(rotor.Table.arena_size(**fields))
    lent, owned = rotor.Table(arena=arena, **fields), rotor.Table(**fields)
    del arena  # the table holds a reference
    for table in (lent, owned):
        table.reserve(3100)
    c1, s1 = lent.cos_sin(3000, 64, dtype=np.uint16, duplicated=True)
    c2, s2 = owned.cos_sin(3000, 64, dtype=np.uint16, duplicated=True)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(s1, s2)
    assert lent.config["scaling"] == 5 and lent.stats()["arena_bytes"] == owned.stats()["arena_bytes"]
    assert abs(rotor.Table(preset="deepseek-v3").attention_scale(192) - 0.135234) < 1e-5


def test_attention_prefill_equals_decode_steps():
    qh, kh, d, s = 4, 2, 64, 9
    table = rotor.Table(d, max_len=256)
    q = rng.standard_normal((1, s, qh, d)).astype(np.float32)
    k = rng.standard_normal((1, s, kh, d)).astype(np.float32)
    v = rng.standard_normal((1, s, kh, d)).astype(np.float32)
    prefill_cache = rotor.KVCache(kh, d, 64)
    prefill = table.attention(q, k, v, [prefill_cache])
    assert len(prefill_cache) == s
    decode_cache = rotor.KVCache(kh, d, 64, arena=rotor.aligned_buffer(rotor.KVCache.arena_size(kh, d, 64)))
    workspace = rotor.aligned_buffer(rotor.attention_workspace_size(qh, kh, d, 1))
    out = np.empty((1, 1, qh, d), np.float32)
    for t in range(s):
        table.attention(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1], [decode_cache], out=out, workspace=workspace)
        np.testing.assert_array_equal(out[0, 0], prefill[0, t])
    decode_cache.reset()
    assert len(decode_cache) == 0 and decode_cache.epoch == 0 and decode_cache.rerotations == 0


def test_a_refusing_table_raises_rescaled_and_events_reach_python():
    table = rotor.Table(64, scaling="dynamic_ntk", factor=2.0, original_max_len=16, initial_len=16, max_len=4096)
    events = []
    table.on_event(events.append)
    table.set_rescale_policy("refuse")
    cache = rotor.KVCache(1, 64, 256)
    x = rng.standard_normal((1, 32, 1, 64)).astype(np.float32)
    table.attention(x[:, :8], x[:, :8], x[:, :8], [cache])
    with pytest.raises(rotor.RotorError) as raised:
        table.attention(x[:, :24], x[:, :24], x[:, :24], [cache])
    assert raised.value.status == rotor.Status.RESCALED
    table.reserve(200)
    assert any(e.reason == "reserve" and e.new_rows >= 200 for e in events)
    table.on_event(None)


def progress_during(call, tries):
    """How far another Python thread counted while call() ran, at most `tries` times (stopping
    at the first call that saw progress). The switch interval is raised so that the counter
    (which hands the GIL back at every step) runs only while this thread releases the GIL: a
    call that holds it sees no progress at all, whatever the machine. A call that releases it
    may still see none when the OS runs the counter late (a loaded machine): hence the tries."""
    count, stop = [0], threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1
            time.sleep(0)  # releases the GIL, so this thread takes it back at once when it returns
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # no forced switch while this thread computes for < 1 s
    thread = threading.Thread(target=counter)
    thread.start()
    try:
        while count[0] == 0:
            time.sleep(0.001)
        progress = 0
        for _ in range(tries):
            before = count[0]
            call()
            progress = count[0] - before
            if progress:
                break
        return progress
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)


def test_the_gil_is_released_during_a_call():
    table = rotor.Table(128, max_len=8192)
    x = rng.standard_normal((4, 1024, 16, 128)).astype(np.float32)  # 32 MiB: milliseconds of work
    assert progress_during(lambda: table.apply(x), tries=200) > 0
    # The observer is sound: the same C function through ctypes.PyDLL, which keeps the GIL for
    # the call, lets the counter make no progress.
    held = ctypes.PyDLL(rotor.library_path())
    held.rotor_apply.restype, held.rotor_apply.argtypes = rotor._capi.PROTOTYPES["rotor_apply"]
    view = rotor._capi.rotor_tensor()
    view.data, view.dtype = x.ctypes.data, rotor._capi.ROTOR_DTYPE_F32
    view.batch, view.seq, view.heads, view.head_dim = x.shape
    view.stride_batch, view.stride_seq, view.stride_head = (s // 4 for s in x.strides[:3])
    assert progress_during(lambda: held.rotor_apply(table.handle, ctypes.byref(view), None, 0, 0, None), tries=5) == 0


def test_threads_share_a_table():
    table = rotor.Table(64, initial_len=16, max_len=1 << 16)
    inputs = [rng.standard_normal((1, 64, 2, 64)).astype(np.float32) for _ in range(4)]
    want = [rotor.Table(64, max_len=1 << 16).apply_to(x, offset=15000 * i) for i, x in enumerate(inputs)]
    got = [x.copy() for x in inputs]
    threads = [threading.Thread(target=table.apply, args=(got[i],), kwargs=dict(offset=15000 * i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


C_PROGRAM = r"""
#include <stdio.h>
#include "rotor/rotor.h"
int main(void) {
  float x[2 * 5 * 3 * 48];
  int32_t pos[10];
  rotor_config cfg;
  rotor_table *t;
  unsigned seed = 1;
  for (int i = 0; i < 2 * 5 * 3 * 48; ++i) { seed = seed * 1103515245u + 12345u; x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f; }
  for (int i = 0; i < 10; ++i) pos[i] = i * 97;
  rotor_config_init(&cfg, 32);
  cfg.pairing = ROTOR_PAIRING_INTERLEAVED;
  cfg.base = 500000.0;
  if (rotor_table_create(&t, &cfg) != ROTOR_OK) return 1;
  rotor_tensor v = rotor_tensor_bshd(x, ROTOR_DTYPE_F32, 2, 5, 3, 48);
  if (rotor_apply(t, &v, pos, 0, ROTOR_FORWARD, NULL) != ROTOR_OK) return 1;
  fwrite(x, sizeof x, 1, stdout);
  rotor_table_destroy(t);
  return 0;
}
"""


def test_same_bits_as_a_c_program_on_the_same_library(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = tmp_path / "same_bits.c"
    source.write_text(C_PROGRAM)
    # The package holds one file, librotor.so; the program asks for its SONAME, librotor.so.1.
    (tmp_path / "librotor.so.1").symlink_to(rotor.library_path())
    exe = tmp_path / "same_bits"
    subprocess.run([compiler, "-std=c99", "-O2", str(source), "-I", os.path.join(REPO, "include"),
                    str(tmp_path / "librotor.so.1"), "-Wl,-rpath," + str(tmp_path), "-o", str(exe)], check=True)
    c_bytes = subprocess.run([str(exe)], check=True, stdout=subprocess.PIPE).stdout
    seed, values = 1, []
    for _ in range(2 * 5 * 3 * 48):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        values.append(np.float32(((seed >> 8) & 0xFFFF) / 32768.0) - np.float32(1.0))
    x = np.array(values, dtype=np.float32).reshape(2, 5, 3, 48)
    rotor.Table(32, pairing="interleaved", base=500000.0).apply(x, positions=np.arange(10).reshape(2, 5) * 97)
    assert x.tobytes() == c_bytes


def test_torch_cpu_tensors_in_place():
    torch = pytest.importorskip("torch")
    table = rotor.Table(64)
    for dtype, numpy_type in ((torch.float32, np.float32), (torch.float16, np.float16), (torch.bfloat16, np.uint16)):
        t = torch.randn(2, 8, 4, 64).to(dtype)  # [batch, heads, seq, head_dim]
        # numpy arrays sharing t's memory (bf16 as its uint16 bits).
        raw = t.numpy() if dtype == torch.float32 else t.view(torch.int16).numpy().view(numpy_type)
        expected = table.apply_to(raw, offset=4, layout="bhsd")
        pointer, view = t.data_ptr(), t.transpose(1, 2)  # a strided [b, s, h, d] view
        assert table.apply(view, offset=4) is view and t.data_ptr() == pointer
        np.testing.assert_array_equal(raw.view(np.uint8), expected.view(np.uint8))
        out = table.apply_to(t, offset=4, layout="bhsd")
        assert isinstance(out, torch.Tensor) and out.dtype == dtype
    q, k = torch.randn(1, 3, 4, 64), torch.randn(1, 3, 2, 64)
    q_np, k_np = table.apply_to(q.numpy(), offset=1), table.apply_to(k.numpy(), offset=1)
    table.apply_qk(q, k, positions=torch.tensor([1, 2, 3]))
    np.testing.assert_array_equal(q.numpy(), q_np)
    np.testing.assert_array_equal(k.numpy(), k_np)
