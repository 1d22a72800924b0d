#!/usr/bin/env python3
"""Writes the small GGUF files the rotor_hf_config tests read (gguf-*.gguf, metadata and the
RoPE factor tensors only, each well under 4 KiB) with llama.cpp's own writer, the gguf package
(pip install gguf). Run once from any directory; the files are committed:

    python3 tests/data/make_gguf.py

Each file holds what llama.cpp's converter (convert_hf_to_gguf.py) writes for the model's RoPE,
from the model's config.json beside this script: Llama 3.1 (rope_freqs, computed in float32 as
the converter does), Phi-3 mini 128k (LongRoPE factor tensors), Gemma 3 4B (sliding and global
layers) and Command R7B (full-attention layers without rotary embedding).
"""
import json
import math
import os

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))


def hf(name):
    with open(os.path.join(HERE, f"hf-{name}.json")) as file:
        return json.load(file)


def write(name, arch, keys, tensors=None):
    writer = gguf.GGUFWriter(os.path.join(HERE, f"gguf-{name}.gguf"), arch)
    for method, value in keys:
        getattr(writer, method)(value)
    for tensor, values in (tensors or {}).items():
        writer.add_tensor(tensor, np.asarray(values, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama3_rope_freqs(base, dim, scaling):
    """convert_hf_to_gguf.py's LlamaModel rope_freqs: float32 arithmetic (torch there)."""
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    freqs = np.float32(1.0) / (np.float32(base) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    out = []
    for freq in freqs:
        wavelen = np.float32(2 * math.pi) / freq
        if wavelen < old / high:
            out.append(1.0)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (np.float32(old) / wavelen - np.float32(low)) / np.float32(high - low)
            out.append(np.float32(1) / ((np.float32(1) - smooth) / np.float32(factor) + smooth))
    return out


def main():
    c = hf("llama-3.1-8b")
    head = c["hidden_size"] // c["num_attention_heads"]
    write("llama-3.1-8b", "llama", [
        ("add_context_length", c["max_position_embeddings"]), ("add_embedding_length", c["hidden_size"]),
        ("add_block_count", c["num_hidden_layers"]), ("add_head_count", c["num_attention_heads"]),
        ("add_head_count_kv", c["num_key_value_heads"]), ("add_rope_freq_base", c["rope_theta"]),
        ("add_rope_dimension_count", head),
    ], {"rope_freqs.weight": llama3_rope_freqs(c["rope_theta"], head, c["rope_scaling"])})

    c = hf("phi-3-mini-128k")
    scale = c["max_position_embeddings"] / c["original_max_position_embeddings"]
    write("phi-3-mini-128k", "phi3", [
        ("add_context_length", c["max_position_embeddings"]),
        ("add_rope_scaling_orig_ctx_len", c["original_max_position_embeddings"]),
        ("add_embedding_length", c["hidden_size"]), ("add_block_count", c["num_hidden_layers"]),
        ("add_head_count", c["num_attention_heads"]), ("add_rope_freq_base", c["rope_theta"]),
        ("add_rope_dimension_count", c["hidden_size"] // c["num_attention_heads"]),
        ("add_rope_scaling_attn_factors", math.sqrt(1 + math.log(scale) / math.log(c["original_max_position_embeddings"]))),
    ], {"rope_factors_long.weight": c["rope_scaling"]["long_factor"],
        "rope_factors_short.weight": c["rope_scaling"]["short_factor"]})

    c = hf("gemma-3-4b")
    write("gemma-3-4b", "gemma3", [
        ("add_context_length", c["max_position_embeddings"]), ("add_embedding_length", c["hidden_size"]),
        ("add_block_count", 34), ("add_head_count", c["num_attention_heads"]), ("add_key_length", c["head_dim"]),
        ("add_value_length", c["head_dim"]), ("add_rope_freq_base", c["rope_theta"]), ("add_sliding_window", 1024),
        ("add_rope_scaling_type", gguf.RopeScalingType.LINEAR), ("add_rope_scaling_factor", c["rope_scaling"]["factor"]),
    ])

    # CohereForAI/c4ai-command-r7b-12-2024 (no config.json here: the preset's values).
    write("command-r7b", "cohere2", [
        ("add_context_length", 8192), ("add_embedding_length", 4096), ("add_block_count", 32),
        ("add_head_count", 32), ("add_rope_freq_base", 50000.0), ("add_rope_dimension_count", 128),
        ("add_sliding_window", 4096),
    ])


if __name__ == "__main__":
    main()
