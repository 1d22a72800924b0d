#!/usr/bin/env python3
"""Golden data for rotor from Hugging Face transformers' own RoPE code.

Needs torch and transformers (not CI: CI compares with the files this writes, using numpy
only, in tests/ffi/test_golden.py). Run once after a change of cases:

    python3 -m venv /work/venv-hf && /work/venv-hf/bin/pip install torch transformers numpy
    /work/venv-hf/bin/python tests/golden/gen_golden.py      # -> tests/golden/rope_golden.npz, cases.json

Each case runs transformers' modules (rotary embedding classes, apply functions, attention) twice:
in float64, and as shipped (float32). Transformers hard-codes float32 in its rope code
(`torch.arange(..., dtype=torch.float)`, `position_ids.float()`), so the float64 run swaps
`torch.float`/`torch.float32`, `Tensor.float` and the default dtype for their float64 forms while the module is
built and called: the same code, in double precision. Inputs are float32 values (what rotor
rotates), held in float64 for the float64 run.

A case's "rotor" entry is the rotor_config (fields by name) that should reproduce it; "kind"
says which rotor entry point the test calls: apply (1-D positions), axes (multi-axis ids),
attention / attention_axes (rotor_attention_forward / _axes on a fresh cache).
"""
import contextlib
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: F401 (types HF has)

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261201)


@contextlib.contextmanager
def float64_torch():
    """transformers' float32 literals made float64 for the duration."""
    saved = (torch.float, torch.float32, torch.Tensor.float)
    # Scalars times integer tensors (dynamic NTK's factor * seq_len) take the default dtype.
    torch.set_default_dtype(torch.float64)
    torch.float = torch.float64
    torch.float32 = torch.float64
    torch.Tensor.float = lambda self, *a, **k: self.double()
    try:
        yield
    finally:
        torch.float, torch.float32, torch.Tensor.float = saved
        torch.set_default_dtype(torch.float32)


def both(fn):
    """fn(dtype) run natively (float32) and in float64; returns (f64, f32) numpy arrays."""
    with float64_torch():
        r64 = fn(torch.float64)
    r32 = fn(torch.float32)
    return np.asarray(r64, dtype=np.float64), np.asarray(r32, dtype=np.float32)


def sample_positions(limit, count, must=()):
    pos = [p for p in must if 0 <= p < limit]
    pos += list(rng.integers(0, limit, count - len(pos)))
    return np.array(sorted(set(pos))[:count] + [0] * 0, dtype=np.int64)


def rand(shape):
    return rng.standard_normal(shape).astype(np.float32)


cases, arrays = [], {}


def add(name, kind, rotor, **data):
    cases.append({"name": name, "kind": kind, "rotor": rotor,
                  "fields": sorted(data.keys())})
    for k, v in data.items():
        arrays[f"{name}.{k}"] = v


# ---- 1-D rope types through LlamaRotaryEmbedding + apply_rotary_pos_emb -------------------
from transformers import LlamaConfig
from transformers.models.llama import modeling_llama as llama


def llama_rope_case(name, head_dim, rope_parameters, positions, rotor, heads=2, extra=None, rotary_dim=None):
    kw = dict(hidden_size=head_dim * 4, num_attention_heads=4, head_dim=head_dim,
              rope_parameters=rope_parameters, max_position_embeddings=rotor["max_len"])
    kw.update(extra or {})
    x = rand((len(positions), heads, head_dim))

    def run(dtype):
        cfg = LlamaConfig(**kw)
        rot = llama.LlamaRotaryEmbedding(cfg)
        t = torch.tensor(x, dtype=dtype).permute(1, 0, 2)[None]  # [1, heads, tokens, d]
        pid = torch.tensor(positions)[None]
        cos, sin = rot(t, pid)
        q, _ = llama.apply_rotary_pos_emb(t, t, cos, sin)
        return q[0].permute(1, 0, 2).numpy()

    hf64, hf32 = both(run)
    add(name, "apply", rotor, x=x, positions=positions.astype(np.int32), hf64=hf64, hf32=hf32)


def cfg(rotary_dim, **fields):
    d = {"rotary_dim": rotary_dim}
    d.update(fields)
    return d


L = 32768
llama_rope_case("default", 128, {"rope_type": "default", "rope_theta": 10000.0},
                sample_positions(L, 48, [0, 1, L - 1]), cfg(128, base=10000.0, max_len=L))
llama_rope_case("linear", 128, {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
                sample_positions(L, 48, [0, 1, L - 1]), cfg(128, base=10000.0, max_len=L, scaling="linear", factor=4.0))
for label, top in (("short", 4096), ("long", 16384)):
    llama_rope_case(f"dynamic-{label}", 128, {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 4.0},
                    sample_positions(top, 48, [0, 4095, top - 1]),
                    cfg(128, base=10000.0, max_len=L, scaling="dynamic_ntk", factor=4.0, original_max_len=4096),
                    extra={"max_position_embeddings": 4096})
# Qwen2.5 long context: yarn factor 4 over 32768 (max_position_embeddings 32768 in the file).
llama_rope_case("yarn", 128, {"rope_type": "yarn", "rope_theta": 1000000.0, "factor": 4.0,
                              "original_max_position_embeddings": 32768},
                sample_positions(131072, 48, [0, 32767, 32768, 131071]),
                cfg(128, base=1000000.0, max_len=131072, scaling="yarn", factor=4.0, original_max_len=32768),
                extra={"max_position_embeddings": 131072})
llama_rope_case("yarn-mscale", 64, {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
                                    "original_max_position_embeddings": 4096, "mscale": 0.707,
                                    "mscale_all_dim": 0.707, "beta_fast": 32.0, "beta_slow": 1.0},
                sample_positions(163840, 48, [0, 4095, 4096, 163839]),
                cfg(64, base=10000.0, max_len=163840, scaling="yarn", factor=40.0, original_max_len=4096,
                    mscale=0.707, mscale_all_dim=0.707, beta_fast=32.0, beta_slow=1.0),
                extra={"max_position_embeddings": 163840})
llama_rope_case("llama3", 128, {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 8192},
                sample_positions(131072, 48, [0, 8191, 8192, 131071]),
                cfg(128, base=500000.0, max_len=131072, scaling="llama3", factor=8.0, original_max_len=8192,
                    low_freq_factor=1.0, high_freq_factor=4.0), extra={"max_position_embeddings": 131072})
# Factors as float32 values (rotor_config holds floats; a config.json's decimals are read as
# float32 by transformers' native run too).
short_f = [float(np.float32(1.0 + 0.03 * i)) for i in range(48)]
long_f = [float(np.float32(1.0 + 1.3 * i)) for i in range(48)]
for label, top in (("short", 4096), ("long", 131072)):
    llama_rope_case(f"longrope-{label}", 96, {"rope_type": "longrope", "rope_theta": 10000.0,
                                              "long_factor": long_f, "short_factor": short_f,
                                              "original_max_position_embeddings": 4096},
                    sample_positions(top, 48, [0, 4095, top - 1]),
                    cfg(96, base=10000.0, max_len=131072, scaling="longrope", factor=32.0, original_max_len=4096,
                        long_factor=long_f, short_factor=short_f),
                    extra={"max_position_embeddings": 131072, "original_max_position_embeddings": 4096})
# Gemma 4 full-attention layers: proportional, 64 of 256 pairs over head_dim 512.
llama_rope_case("proportional", 512, {"rope_type": "proportional", "rope_theta": 1000000.0,
                                      "partial_rotary_factor": 0.25},
                sample_positions(131072, 32, [0, 1, 131071]),
                cfg(512, base=1000000.0, max_len=131072, scaling="proportional", rope_pairs=64), heads=1)

# ---- M-RoPE: Qwen2-VL, Qwen2.5-VL, Qwen3-VL ----------------------------------------------


def mrope_ids(count):
    """Text, an image block (t fixed, rows x cols), then text continuing at max + 1."""
    t, h, w = [], [], []
    for p in range(10):
        t.append(p); h.append(p); w.append(p)
    rows, cols = 3, 4
    for r in range(rows):
        for c in range(cols):
            t.append(10); h.append(10 + r); w.append(10 + c)
    nxt = max(max(t), max(h), max(w)) + 1
    while len(t) < count:
        t.append(nxt); h.append(nxt); w.append(nxt); nxt += 1
    ids = np.array([t, h, w], dtype=np.int64)
    ids[:, -4:] += np.array([[100000], [100000], [100000]]) + np.array([[0, 7, 13, 900]] * 3)  # large ids
    ids[1, -2] += 55  # an image-like token far out
    return ids


def mrope_case(name, module, config_cls, text_kwargs, rotor):
    ids = mrope_ids(40)
    head_dim = 128
    x = rand((ids.shape[1], 2, head_dim))

    def run(dtype):
        c = config_cls(**text_kwargs)
        rot = module.__dict__[module_rotary[name]](c)
        t = torch.tensor(x, dtype=dtype).permute(1, 0, 2)[None]
        pid = torch.tensor(ids)[:, None, :]  # [3, batch, seq]
        cos, sin = rot(t, pid)
        q, _ = module.apply_rotary_pos_emb(t, t, cos, sin)
        return q[0].permute(1, 0, 2).numpy()

    hf64, hf32 = both(run)
    add(name, "axes", rotor, x=x, positions=ids.astype(np.int32), hf64=hf64, hf32=hf32)


from transformers.models.qwen2_vl import modeling_qwen2_vl as qwen2_vl
from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qwen2_5_vl
from transformers.models.qwen3_vl import modeling_qwen3_vl as qwen3_vl
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLTextConfig
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig
from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLTextConfig

module_rotary = {"qwen2-vl": "Qwen2VLRotaryEmbedding", "qwen2.5-vl": "Qwen2_5_VLRotaryEmbedding",
                 "qwen3-vl": "Qwen3VLTextRotaryEmbedding"}
mrope_case("qwen2-vl", qwen2_vl, Qwen2VLTextConfig,
           dict(hidden_size=3584, num_attention_heads=28, max_position_embeddings=32768,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}),
           {"preset": "qwen2-vl-7b", "max_len": 131072})
mrope_case("qwen2.5-vl", qwen2_5_vl, Qwen2_5_VLTextConfig,
           dict(hidden_size=3584, num_attention_heads=28, max_position_embeddings=128000,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}),
           {"preset": "qwen2.5-vl-7b", "max_len": 131072})
mrope_case("qwen3-vl", qwen3_vl, Qwen3VLTextConfig,
           dict(hidden_size=4096, num_attention_heads=32, head_dim=128, max_position_embeddings=262144,
                rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                                 "mrope_interleaved": True}),
           {"preset": "qwen3-vl-8b"})

# ---- 2-D vision rotary: Qwen2-VL vision tower, Pixtral ----------------------------------
from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
from transformers.models.pixtral import modeling_pixtral as pixtral
from transformers.models.pixtral.configuration_pixtral import PixtralVisionConfig


def grid_ids(rows, cols, top):
    ids = [(r, c) for r in range(rows) for c in range(cols)]
    ids += [(top - 1, 0), (0, top - 1), (top - 1, top - 1), (top // 2, top // 3)]
    return np.array(ids, dtype=np.int64)  # [N, 2]


def vision_case(name, make, apply, head_dim, ids, rotor):
    x = rand((len(ids), 2, head_dim))

    def run(dtype):
        rot = make()
        t = torch.tensor(x, dtype=dtype)  # [N, heads, d]
        cos, sin = rot(t, torch.tensor(ids))
        q = apply(t, cos, sin)
        return q.numpy()

    hf64, hf32 = both(run)
    # rotor takes ids axis-major: [2][N] (rows, then columns).
    add(name, "axes", rotor, x=x, positions=np.ascontiguousarray(ids.T).astype(np.int32), hf64=hf64, hf32=hf32)


def qwen_vision_apply(t, cos, sin):
    q, _ = qwen2_vl.apply_rotary_pos_emb_vision(t, t, cos, sin)
    return q


vision_case("qwen2-vl-vision",
            lambda: qwen2_vl.Qwen2VLVisionRotaryEmbedding(Qwen2VLVisionConfig(embed_dim=1280, num_heads=16)),
            qwen_vision_apply, 80, grid_ids(4, 5, 1024), {"preset": "qwen2-vl-vision"})


def pixtral_apply(t, cos, sin):
    q, _ = pixtral.apply_rotary_pos_emb(t, t, cos, sin, unsqueeze_dim=1)
    return q


vision_case("pixtral-vision",
            lambda: pixtral.PixtralVisionRotaryEmbedding(PixtralVisionConfig(hidden_size=1024, num_attention_heads=16,
                                                                            head_dim=64, image_size=1024, patch_size=16)),
            pixtral_apply, 64, grid_ids(4, 5, 64), {"preset": "pixtral-12b-vision"})

# ---- models with several tables or other pairings ----------------------------------------
from transformers.models.gemma3 import modeling_gemma3 as gemma3
from transformers.models.gemma3.configuration_gemma3 import Gemma3TextConfig
from transformers.models.llama4 import modeling_llama4 as llama4
from transformers.models.llama4.configuration_llama4 import Llama4TextConfig
from transformers.models.cohere import modeling_cohere as cohere
from transformers.models.cohere.configuration_cohere import CohereConfig
from transformers.models.glm import modeling_glm as glm
from transformers.models.glm.configuration_glm import GlmConfig


def module_case(name, head_dim, positions, make_cos_sin, apply, rotor, heads=2):
    x = rand((len(positions), heads, head_dim))

    def run(dtype):
        t = torch.tensor(x, dtype=dtype).permute(1, 0, 2)[None]  # [1, heads, tokens, d]
        emb = make_cos_sin(t, torch.tensor(positions)[None])
        return apply(t, emb)[0].permute(1, 0, 2).numpy()

    hf64, hf32 = both(run)
    add(name, "apply", rotor, x=x, positions=positions.astype(np.int32), hf64=hf64, hf32=hf32)


g3 = dict(hidden_size=2560, num_attention_heads=8, head_dim=256, max_position_embeddings=131072,
          rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                           "full_attention": {"rope_type": "linear", "rope_theta": 1000000.0, "factor": 8.0}})
for layer_type, preset in (("sliding_attention", "gemma-3-4b/local"), ("full_attention", "gemma-3-4b/global")):
    module_case(preset.replace("/", "-"), 256, sample_positions(131072, 32, [0, 131071]),
                lambda t, p, lt=layer_type: gemma3.Gemma3RotaryEmbedding(Gemma3TextConfig(**g3))(t, p, lt),
                lambda t, e: gemma3.apply_rotary_pos_emb(t, t, *e)[0], {"preset": preset}, heads=1)


def llama4_apply(t, freqs):
    # Llama 4's apply takes [b, s, h, d]
    q, _ = llama4.apply_rotary_emb(t.transpose(1, 2), t.transpose(1, 2), freqs)
    return q.transpose(1, 2)


l4 = dict(hidden_size=5120, num_attention_heads=40, head_dim=128, max_position_embeddings=10485760,
          rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 16.0, "low_freq_factor": 1.0,
                           "high_freq_factor": 1.0, "original_max_position_embeddings": 8192})
module_case("llama-4-scout", 128, sample_positions(10485760, 48, [0, 8191, 8192, 10485759]),
            lambda t, p: llama4.Llama4TextRotaryEmbedding(Llama4TextConfig(**l4))(t, p), llama4_apply,
            {"preset": "llama-4-scout"})
module_case("command-r", 128, sample_positions(131072, 48, [0, 131071]),
            lambda t, p: cohere.CohereRotaryEmbedding(CohereConfig(hidden_size=8192, num_attention_heads=64,
                                                                   max_position_embeddings=131072,
                                                                   rope_parameters={"rope_type": "default",
                                                                                    "rope_theta": 8000000.0}))(t, p),
            lambda t, e: cohere.apply_rotary_pos_emb(t, t, *e)[0], {"preset": "command-r"})


def glm_apply(t, e):
    q, _ = glm.apply_rotary_pos_emb(t, t, *e)
    return q


module_case("glm-4-9b", 128, sample_positions(131072, 48, [0, 131071]),
            lambda t, p: glm.GlmRotaryEmbedding(GlmConfig(hidden_size=4096, num_attention_heads=32, head_dim=128,
                                                          max_position_embeddings=131072,
                                                          rope_parameters={"rope_type": "default",
                                                                           "rope_theta": 10000.0,
                                                                           "partial_rotary_factor": 0.5}))(t, p),
            glm_apply, {"preset": "glm-4-9b"})

# ---- attention: a tiny Llama and a tiny Qwen2-VL attention, random q/k/v ------------------


class Fixed(torch.nn.Module):
    """A projection that returns given values: HF's attention then runs on exactly rotor's inputs."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, hidden):
        return self.value.to(hidden.dtype)


def attention_case(name, make_config, attention_cls, rotary_cls, ids, rotor, q_heads=4, kv_heads=2, head_dim=64):
    seq = ids.shape[-1]
    q, k, v = rand((seq, q_heads, head_dim)), rand((seq, kv_heads, head_dim)), rand((seq, kv_heads, head_dim))

    def run(dtype):
        c = make_config()
        c._attn_implementation = "eager"
        attn = attention_cls(c, layer_idx=0).to(dtype)
        attn.q_proj = Fixed(torch.tensor(q.reshape(1, seq, -1)))
        attn.k_proj = Fixed(torch.tensor(k.reshape(1, seq, -1)))
        attn.v_proj = Fixed(torch.tensor(v.reshape(1, seq, -1)))
        attn.o_proj = torch.nn.Identity()
        hidden = torch.zeros((1, seq, c.hidden_size), dtype=dtype)
        pid = torch.tensor(ids)
        pid = pid[None] if pid.dim() == 1 else pid[:, None, :]
        cos, sin = rotary_cls(c)(hidden, pid)
        mask = torch.full((seq, seq), float("-inf"), dtype=dtype).triu(1)[None, None]
        out, _ = attn(hidden_states=hidden, position_embeddings=(cos, sin), attention_mask=mask)
        return out[0].reshape(seq, q_heads, head_dim).detach().numpy()

    hf64, hf32 = both(run)
    kind = "attention" if ids.ndim == 1 else "attention_axes"
    add(name, kind, rotor, q=q, k=k, v=v, positions=ids.astype(np.int32), hf64=hf64, hf32=hf32)


attention_case("attention-llama",
               lambda: LlamaConfig(hidden_size=256, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                                   rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
               llama.LlamaAttention, llama.LlamaRotaryEmbedding, np.arange(24),
               cfg(64, base=500000.0, max_len=4096))
attention_case("attention-qwen2-vl",
               lambda: Qwen2VLTextConfig(hidden_size=256, num_attention_heads=4, num_key_value_heads=2,
                                         rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                                          "mrope_section": [8, 12, 12]}),
               qwen2_vl.Qwen2VLAttention, qwen2_vl.Qwen2VLRotaryEmbedding, mrope_ids(30),
               cfg(64, base=1000000.0, max_len=200000, layout="mrope", mrope_section=[8, 12, 12]))

meta = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases}
with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump(meta, f, indent=1)
np.savez_compressed(os.path.join(OUT, "rope_golden.npz"), **arrays)
print(f"{len(cases)} cases, transformers {transformers.__version__}, torch {torch.__version__}")
