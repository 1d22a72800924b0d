#!/usr/bin/env python3
"""The peer for bench/bench_cuda.cu: the same rotation through PyTorch, written as Hugging Face
transformers writes it (rotate_half, apply_rotary_pos_emb), on the same GPU and shapes.

Shapes: Q [1, 32, tokens, 128] and K [1, 8, tokens, 128] (Hugging Face's [batch, heads, seq,
dim]), cos/sin [1, 1, tokens, 128] in the tensor's dtype, at 1, 128, 4096 and 32768 tokens,
f16 and bf16. Effective bandwidth is counted as in bench_cuda.cu: 2 * (|Q| + |K|) bytes per
call (each tensor read and written once), although the eager formulation moves more (it makes
temporaries for rotate_half and each product), which is the point of the comparison.

Runs only where torch and a CUDA device exist; prints a note and exits 0 otherwise.
Usage: python3 bench/bench_torch_rope.py [--csv] [--compile]
  --compile  also time torch.compile of the same function (fused by Inductor)
"""
import argparse
import sys

try:
    import torch
except ImportError:  # reported in main()
    torch = None


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    if torch is None:
        print("bench_torch_rope: torch is not installed: nothing measured")
        return 0
    if not torch.cuda.is_available():
        print("bench_torch_rope: no CUDA device: nothing measured")
        return 0

    q_heads, k_heads, dim, base = 32, 8, 128, 10000.0
    print(f"# GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    variants = [("eager", apply_rotary_pos_emb)]
    if args.compile:
        variants.append(("compiled", torch.compile(apply_rotary_pos_emb)))
    if args.csv:
        print("variant,dtype,tokens,bytes,torch_us,torch_GBps")
    else:
        print(f"{'variant':9} {'dtype':5} {'tokens':>7} {'bytes':>12} {'torch_us':>10} {'torch_GB/s':>10}")
    for dtype, name in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        for tokens in (1, 128, 4096, 32768):
            q = torch.randn(1, q_heads, tokens, dim, device="cuda", dtype=dtype)
            k = torch.randn(1, k_heads, tokens, dim, device="cuda", dtype=dtype)
            # As transformers' LlamaRotaryEmbedding: float angles, cat(freqs, freqs), cast to dtype.
            inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, device="cuda", dtype=torch.float32) / dim))
            pos = torch.arange(32768 - tokens, 32768, device="cuda", dtype=torch.float32)
            freqs = torch.outer(pos, inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos = emb.cos().to(dtype)[None, None]
            sin = emb.sin().to(dtype)[None, None]
            moved = 2 * (q.numel() + k.numel()) * q.element_size()
            iters = int(min(max(4e11 / moved, 50), 20000))
            for variant, fn in variants:
                for _ in range(5):
                    fn(q, k, cos, sin)
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(iters):
                    fn(q, k, cos, sin)
                stop.record()
                stop.synchronize()
                seconds = start.elapsed_time(stop) * 1e-3 / iters
                gbs = moved / seconds * 1e-9
                if args.csv:
                    print(f"{variant},{name},{tokens},{moved},{seconds * 1e6:.3f},{gbs:.1f}")
                else:
                    print(f"{variant:9} {name:5} {tokens:>7} {moved:>12} {seconds * 1e6:>10.3f} {gbs:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
