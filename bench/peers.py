#!/usr/bin/env python3
"""rotor against its peers on the same inputs, in one process, alternating systems.

    pip install ./bindings/python   # or ROTOR_LIBRARY=build-bench/librotor.so with PYTHONPATH=bindings/python/src
    python3 bench/peers.py            # 1 and 2 threads
    python3 bench/peers.py --long     # + 8192-token rows
    python3 bench/peers.py --rope-only --threads 1 --rounds 30   # RotaryEmbedding rows only

Systems (each measured on the same numpy inputs, one after the other, round after round):
  - rotor through its Python package (bindings/python: ctypes, arrays used in place);
  - onnxruntime (pip onnxruntime + onnx): the contrib GroupQueryAttention operator
    (com.microsoft, do_rotary=1, rotate_half, cos/sin caches taken from rotor's own table so both
    rotate identically) and the ONNX RotaryEmbedding operator (opset 23);
  - PyTorch's Hugging Face formulation (rotate_half, cat(freqs, freqs)) when torch is installed.

Shapes: Llama-3-8B attention (32 q heads, 8 kv heads, head_dim 128, f32, batch 1, causal).
Prefill = the whole prompt in one call; decode = one token against a cache of L tokens (rotor's
cache holds L tokens from a prefill; onnxruntime gets past_key/past_value of L tokens).
Times are per call: the median and the minimum over the rounds (wall clock, time.perf_counter),
and for one thread also the process CPU time (time.process_time), which is less disturbed by
other processes on a shared machine. Ratios are peer time / rotor time (> 1: rotor is faster).
Not part of CI.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import rotor  # the installed package (pip install ./bindings/python)
except ImportError:  # the source tree, with ROTOR_LIBRARY naming a built librotor.so
    sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python", "src"))
    import rotor  # noqa: E402

Q_HEADS, KV_HEADS, DIM = 32, 8, 128
SCALE = 1.0 / np.sqrt(DIM)


class RotorAttention:
    """One layer's cache, workspace and table; forward(q, k, v) appends and attends."""

    def __init__(self, max_len: int, new_tokens: int, threads: int):
        self.table = rotor.Table(DIM, max_len=max_len, initial_len=max_len)
        self.pool = rotor.Pool(threads) if threads > 1 else None
        self.cache = rotor.KVCache(KV_HEADS, DIM, max_len, np.float32)
        self.workspace = rotor.aligned_buffer(
            rotor.attention_workspace_size(Q_HEADS, KV_HEADS, DIM, new_tokens, threads))

    def reset(self):
        self.cache.reset()

    def forward(self, q, k, v, out):
        return self.table.attention(q, k, v, [self.cache], out=out, scale=SCALE, workspace=self.workspace,
                                    pool=self.pool)


def ort_session(model, threads: int):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def gqa_model(past: int, seq: int, max_len: int):
    from onnx import TensorProto, helper
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("query", f, [1, seq, Q_HEADS * DIM]),
        helper.make_tensor_value_info("key", f, [1, seq, KV_HEADS * DIM]),
        helper.make_tensor_value_info("value", f, [1, seq, KV_HEADS * DIM]),
        helper.make_tensor_value_info("past_key", f, [1, KV_HEADS, past, DIM]),
        helper.make_tensor_value_info("past_value", f, [1, KV_HEADS, past, DIM]),
        helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [1]),
        helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, []),
        helper.make_tensor_value_info("cos_cache", f, [max_len, DIM // 2]),
        helper.make_tensor_value_info("sin_cache", f, [max_len, DIM // 2]),
    ]
    outputs = [helper.make_tensor_value_info("output", f, [1, seq, Q_HEADS * DIM]),
               helper.make_tensor_value_info("present_key", f, None),
               helper.make_tensor_value_info("present_value", f, None)]
    node = helper.make_node("GroupQueryAttention", [i.name for i in inputs], [o.name for o in outputs],
                            domain="com.microsoft", num_heads=Q_HEADS, kv_num_heads=KV_HEADS, do_rotary=1,
                            rotary_interleaved=0, scale=float(SCALE))
    graph = helper.make_graph([node], "gqa", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])


def rope_model(seq: int, heads: int):
    from onnx import TensorProto, helper
    f = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("X", f, [1, seq, heads * DIM]),
              helper.make_tensor_value_info("cos_cache", f, [1, seq, DIM // 2]),
              helper.make_tensor_value_info("sin_cache", f, [1, seq, DIM // 2])]
    node = helper.make_node("RotaryEmbedding", ["X", "cos_cache", "sin_cache"], ["Y"], num_heads=heads,
                            interleaved=0)
    graph = helper.make_graph([node], "rope", inputs, [helper.make_tensor_value_info("Y", f, [1, seq, heads * DIM])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])


def alternate(systems: dict, rounds: int, warmup: int = 1):
    """Runs each system once per round, in turn; returns {name: (wall list, cpu list)}."""
    times = {name: ([], []) for name in systems}
    for r in range(warmup + rounds):
        for name, fn in systems.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            w1, c1 = time.perf_counter(), time.process_time()
            if r >= warmup:
                times[name][0].append(w1 - w0)
                times[name][1].append(c1 - c0)
    return times


def report(title: str, times: dict, threads: int, flops: float | None = None):
    rotor_wall = times["rotor"][0]
    print(f"\n{title}")
    for name, (wall, cpu) in times.items():
        med, low = statistics.median(wall), min(wall)
        line = f"  {name:24s} median {med * 1e3:9.3f} ms  min {low * 1e3:9.3f} ms"
        if threads == 1:
            line += f"  cpu median {statistics.median(cpu) * 1e3:9.3f} ms"
        if flops:
            line += f"  {flops / low * 1e-9:6.1f} GFLOP/s (min)"
        if name != "rotor":
            what = "ratio to rotor" if name.startswith(("rotor", "numpy")) else "ratio peer/rotor"
            line += (f"  {what}: median {med / statistics.median(rotor_wall):5.2f}"
                     f" min {low / min(rotor_wall):5.2f}")
            if threads == 1:
                line += f" cpu {statistics.median(cpu) / statistics.median(times['rotor'][1]):5.2f}"
        print(line)


def prefill_case(seq: int, threads: int, rounds: int, rng):
    q = rng.standard_normal((1, seq, Q_HEADS, DIM), dtype=np.float32)
    k = rng.standard_normal((1, seq, KV_HEADS, DIM), dtype=np.float32)
    v = rng.standard_normal((1, seq, KV_HEADS, DIM), dtype=np.float32)
    out = np.empty_like(q)
    attention = RotorAttention(seq, seq, threads)
    cos, sin = attention.table.cos_sin(0, seq)

    def run_rotor():
        attention.reset()
        attention.forward(q, k, v, out)

    session = ort_session(gqa_model(0, seq, seq), threads)
    feeds = {"query": q.reshape(1, seq, -1), "key": k.reshape(1, seq, -1), "value": v.reshape(1, seq, -1),
             "past_key": np.zeros((1, KV_HEADS, 0, DIM), np.float32),
             "past_value": np.zeros((1, KV_HEADS, 0, DIM), np.float32),
             "seqlens_k": np.array([seq - 1], np.int32), "total_sequence_length": np.array(seq, np.int32),
             "cos_cache": cos, "sin_cache": sin}
    ort_out = {}

    def run_ort():
        ort_out["y"] = session.run(["output"], feeds)[0]

    run_rotor()
    run_ort()
    diff = float(np.abs(ort_out["y"].reshape(out.shape) - out).max())
    times = alternate({"rotor": run_rotor, "onnxruntime GQA": run_ort}, rounds)
    flops = 4.0 * Q_HEADS * DIM * seq * (seq + 1) / 2
    report(f"prefill {seq} tokens, {threads} thread(s) (max |rotor - ort| = {diff:.2e})", times, threads, flops)


def decode_case(context: int, threads: int, rounds: int, rng):
    total = context + rounds + 2
    q = rng.standard_normal((1, total, Q_HEADS, DIM), dtype=np.float32)
    k = rng.standard_normal((1, total, KV_HEADS, DIM), dtype=np.float32)
    v = rng.standard_normal((1, total, KV_HEADS, DIM), dtype=np.float32)
    out = np.empty_like(q)
    attention = RotorAttention(total, context, threads)
    attention.forward(q[:, :context], k[:, :context], v[:, :context], out[:, :context])
    step = {"t": context}

    def run_rotor():
        t = step["t"]
        attention.forward(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1], out[:, t:t + 1])
        step["t"] = t + 1

    cos, sin = attention.table.cos_sin(0, total)
    session = ort_session(gqa_model(context, 1, total), threads)
    past_k = rng.standard_normal((1, KV_HEADS, context, DIM), dtype=np.float32)
    past_v = rng.standard_normal((1, KV_HEADS, context, DIM), dtype=np.float32)
    feeds = {"query": q[:, context].reshape(1, 1, -1), "key": k[:, context].reshape(1, 1, -1),
             "value": v[:, context].reshape(1, 1, -1), "past_key": past_k, "past_value": past_v,
             "seqlens_k": np.array([context], np.int32), "total_sequence_length": np.array(context + 1, np.int32),
             "cos_cache": cos, "sin_cache": sin}

    def run_ort():
        session.run(["output"], feeds)

    times = alternate({"rotor": run_rotor, "onnxruntime GQA": run_ort}, rounds)
    cache_bytes = 2 * KV_HEADS * DIM * 4 * context
    print(f"\ndecode step, cache {context} tokens ({cache_bytes / 2**20:.0f} MiB of keys and values), {threads} thread(s)")
    for name, (wall, cpu) in times.items():
        line = f"  {name:24s} median {statistics.median(wall) * 1e6:9.1f} us  min {min(wall) * 1e6:9.1f} us" \
               f"  {cache_bytes / min(wall) * 1e-9:6.1f} GB/s of cache (min)"
        if name != "rotor":
            line += (f"  ratio peer/rotor: median {statistics.median(wall) / statistics.median(times['rotor'][0]):5.2f}"
                     f" min {min(wall) / min(times['rotor'][0]):5.2f}")
        print(line)


def rope_case(seq: int, threads: int, rounds: int, rng):
    x = rng.standard_normal((1, seq, Q_HEADS, DIM), dtype=np.float32)
    out = np.empty_like(x)
    table = rotor.Table(DIM, max_len=seq, initial_len=seq)
    pool = rotor.Pool(threads) if threads > 1 else None
    cos, sin = table.cos_sin(0, seq)
    systems = {"rotor": lambda: table.apply_to(x, out, pool=pool)}
    session = ort_session(rope_model(seq, Q_HEADS), threads)
    feeds = {"X": x.reshape(1, seq, -1), "cos_cache": cos[None], "sin_cache": sin[None]}
    ort_y = session.run(["Y"], feeds)[0]
    systems["rotor"]()
    diff = float(np.abs(ort_y.reshape(x.shape) - out).max())
    systems["onnxruntime RotaryEmbedding"] = lambda: session.run(["Y"], feeds)
    # rotor's usual mode (rotate q/k where they lie): half the memory traffic of out of place.
    inplace = x.copy()
    systems["rotor in place"] = lambda: table.apply(inplace, pool=pool)
    # The floor of any out-of-place pass: numpy's copy of the same bytes (glibc memcpy, one thread).
    copy = np.empty_like(x)
    systems["numpy copyto (memcpy)"] = lambda: np.copyto(copy, x)
    try:
        import torch
        torch.set_num_threads(threads)
        tx = torch.from_numpy(x).transpose(1, 2)  # [b, h, s, d], Hugging Face's layout
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, DIM, 2, dtype=torch.float32) / DIM))
        position_ids = torch.arange(seq)[None]

        def hf():
            freqs = (inv_freq[None, :, None] @ position_ids[:, None, :].float()).transpose(1, 2)
            emb = torch.cat((freqs, freqs), dim=-1)
            c, s = emb.cos()[:, None], emb.sin()[:, None]
            x1, x2 = tx[..., :DIM // 2], tx[..., DIM // 2:]
            return tx * c + torch.cat((-x2, x1), dim=-1) * s

        systems["torch (HF rotate_half)"] = hf
    except ImportError:
        pass
    times = alternate(systems, rounds)
    report(f"RotaryEmbedding [1, {seq}, {Q_HEADS}, {DIM}] f32, out of place, {threads} thread(s)"
           f" (max |rotor - ort| = {diff:.2e})", times, threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="add 8192-token prefill and decode rows")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rope-only", action="store_true", help="only the RotaryEmbedding rows")
    args = parser.parse_args()
    import onnxruntime
    print(f"rotor {rotor.version()} kernel {rotor.kernel_name()} ({os.environ.get('ROTOR_LIBRARY', 'installed')}), "
          f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}, load {os.getloadavg()[0]:.2f}")
    try:
        import torch
        print(f"torch {torch.__version__}")
    except ImportError:
        print("torch not installed: no Hugging Face rows")
    rng = np.random.default_rng(0)
    for threads in (int(t) for t in args.threads.split(",")):
        for seq in (128, 2048):
            rope_case(seq, threads, max(args.rounds, 15), rng)
        if args.rope_only:
            continue
        for seq in (512, 2048) + ((8192,) if args.long else ()):
            prefill_case(seq, threads, args.rounds if seq < 8192 else 3, rng)
        for context in (2048,) + ((8192,) if args.long else ()):
            decode_case(context, threads, max(args.rounds, 15), rng)


if __name__ == "__main__":
    main()
