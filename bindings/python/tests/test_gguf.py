"""GGUF files written by llama.cpp's own writer (the gguf package's GGUFWriter), read back through
rotor.from_gguf / Table.from_gguf and compared field by field with rotor's presets.

Each file holds what llama.cpp's converter (convert_hf_to_gguf.py) writes for the model, computed
here from the model's config.json (tests/data/hf-*.json): context_length from
max_position_embeddings, rope.dimension_count from the head size (times the partial-rotary
fraction), rope.freq_base from rope_theta, the rope.scaling.* keys, and the tensors rope_freqs
(Llama 3.1-style scaling, computed in float32 as the converter does with torch),
rope_factors_long / rope_factors_short (LongRoPE). Metadata and small tensors only.

The one expected difference from the preset: llama-family files ("llama": Llama 2/3, Mistral)
rotate adjacent pairs, because the converter permutes their Q/K weights; the Hugging Face
checkpoint (and the preset) rotates halves. llama.cpp's loader reads the same keys with the same
defaults (docs/gguf.md has the table beside rotor's mapping).
"""
from __future__ import annotations

import ctypes
import json
import math
import os
import re

import numpy as np
import pytest

import rotor

gguf = pytest.importorskip("gguf")  # .ci/stages/ffi.sh installs it; a plain checkout may lack it

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "data")


def hf_config(name: str) -> dict:
    with open(os.path.join(DATA, f"hf-{name}.json")) as file:
        config = json.load(file)
    return config.get("text_config", config) | {"model_type": config["model_type"]}


def converter_rope_freqs(base: float, dim: int, scaling: dict) -> np.ndarray:
    """LlamaModel.generate_extra_tensors of convert_hf_to_gguf.py: float32 frequencies (torch in
    the converter, numpy float32 here), then each pair's divisor."""
    factor = scaling.get("factor", 8.0)
    low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    old_context = scaling.get("original_max_position_embeddings", 8192)
    freqs = np.float32(1.0) / (np.float32(base) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    low_wavelen, high_wavelen = old_context / low, old_context / high
    out = []
    for freq in freqs:
        wavelen = np.float32(2 * math.pi) / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (np.float32(old_context) / wavelen - np.float32(low)) / np.float32(high - low)
            out.append(np.float32(1) / ((np.float32(1) - smooth) / np.float32(factor) + smooth))
    return np.array(out, dtype=np.float32)


def write(path, arch: str, keys: dict, tensors: dict | None = None) -> str:
    """A GGUF file: the architecture, the keys (GGUFWriter's add_* method names -> value) and
    small f32 tensors."""
    writer = gguf.GGUFWriter(str(path), arch)
    for method, value in keys.items():
        getattr(writer, method)(value)
    for name, values in (tensors or {}).items():
        writer.add_tensor(name, np.asarray(values))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def base_keys(config: dict, blocks: int) -> dict:
    """TextModel.set_gguf_parameters: the keys every converted model has."""
    hidden = config.get("hidden_size", config.get("n_embd"))
    heads = config.get("num_attention_heads", config.get("n_head"))
    keys = {
        "add_context_length": config.get("max_position_embeddings", config.get("n_positions")),
        "add_embedding_length": hidden,
        "add_block_count": config.get("num_hidden_layers", config.get("n_layer", blocks)),
        "add_head_count": heads,
    }
    if "rope_theta" in config:
        keys["add_rope_freq_base"] = float(config["rope_theta"])
    if "head_dim" in config:
        keys["add_key_length"] = config["head_dim"]
    return keys


def head_dim(config: dict) -> int:
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


# ---- One converter per model family ---------------------------------------------------------

def convert_llama(path, name: str, arch: str = "llama", blocks: int = 32):
    config = hf_config(name)
    keys = base_keys(config, blocks) | {"add_rope_dimension_count": head_dim(config)}
    tensors = {}
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type") == "llama3":
        tensors["rope_freqs.weight"] = converter_rope_freqs(config["rope_theta"], head_dim(config), scaling)
    return write(path, arch, keys, tensors)


def convert_qwen2(path, name: str):
    config = hf_config(name)
    return write(path, "qwen2", base_keys(config, 28))


def convert_qwen_vl(path, name: str, arch: str):
    config = hf_config(name)
    sections = list(config["rope_scaling"]["mrope_section"])
    keys = base_keys(config, 28) | {"add_rope_dimension_sections": sections + [0] * (4 - len(sections))}
    return write(path, arch, keys)


def convert_phi3(path, name: str = "phi-3-mini-128k"):
    config = hf_config(name)
    scaling = config["rope_scaling"]
    dims = config["hidden_size"] // config["num_attention_heads"]
    scale = config["max_position_embeddings"] / config["original_max_position_embeddings"]
    attn_factor = math.sqrt(1 + math.log(scale) / math.log(config["original_max_position_embeddings"]))
    keys = base_keys(config, 32) | {
        "add_rope_dimension_count": dims,
        "add_rope_scaling_attn_factors": attn_factor,
        "add_rope_scaling_orig_ctx_len": config["original_max_position_embeddings"],
    }
    tensors = {"rope_factors_long.weight": np.array(scaling["long_factor"], dtype=np.float32),
               "rope_factors_short.weight": np.array(scaling["short_factor"], dtype=np.float32)}
    return write(path, "phi3", keys, tensors)


def convert_deepseek(path, name: str = "deepseek-v3"):
    config = hf_config(name)
    scaling = config["rope_scaling"]
    keys = base_keys(config, 61) | {
        "add_rope_dimension_count": config["qk_rope_head_dim"],
        "add_key_length": config["qk_nope_head_dim"] + config["qk_rope_head_dim"],
        "add_rope_scaling_type": gguf.RopeScalingType.YARN,
        "add_rope_scaling_factor": float(scaling["factor"]),
        "add_rope_scaling_orig_ctx_len": scaling["original_max_position_embeddings"],
        "add_rope_scaling_yarn_log_mul": 0.1 * scaling["mscale_all_dim"],
    }
    return write(path, "deepseek2", keys)


def convert_gptneox(path, name: str = "gpt-neox-20b"):
    config = hf_config(name)
    keys = base_keys(config, 44)
    keys.pop("add_rope_freq_base", None)  # the GPT-NeoX converter writes no base (10000)
    keys["add_rope_dimension_count"] = int(config["rotary_pct"] * config["hidden_size"] // config["num_attention_heads"])
    return write(path, "gptneox", keys)


def convert_gptj(path, name: str = "gpt-j-6b"):
    config = hf_config(name)
    return write(path, "gptj", base_keys(config, 28) | {"add_rope_dimension_count": config["rotary_dim"]})


def convert_glm4(path, name: str = "glm-4-9b"):
    config = hf_config(name)
    dims = int(config["head_dim"] * config["partial_rotary_factor"])
    return write(path, "glm4", base_keys(config, 40) | {"add_rope_dimension_count": dims})


def convert_gemma3(path, name: str = "gemma-3-4b"):
    config = hf_config(name)
    keys = base_keys(config, 34) | {
        "add_sliding_window": 1024,
        "add_rope_scaling_type": gguf.RopeScalingType.LINEAR,
        "add_rope_scaling_factor": config["rope_scaling"]["factor"],
    }
    return write(path, "gemma3", keys)


# Command R / R7B and Gemma 2 have no config.json in tests/data: the values of the preset's
# source comment (src/table/presets.cpp), i.e. the model's config.json.
def convert_command_r(path):
    keys = {"add_context_length": 131072, "add_embedding_length": 8192, "add_block_count": 40,
            "add_head_count": 64, "add_rope_freq_base": 8000000.0}
    return write(path, "command-r", keys)


def convert_cohere2(path):
    keys = {"add_context_length": 8192, "add_embedding_length": 4096, "add_block_count": 32, "add_head_count": 32,
            "add_rope_freq_base": 50000.0, "add_rope_dimension_count": 128, "add_sliding_window": 4096}
    return write(path, "cohere2", keys)


def convert_gemma2(path):  # google/gemma-2-9b: head_dim 256, rope_theta 10000, 8192 positions
    keys = {"add_context_length": 8192, "add_embedding_length": 3584, "add_block_count": 42, "add_head_count": 16,
            "add_key_length": 256, "add_sliding_window": 4096}
    return write(path, "gemma2", keys)


# (preset, converter, does the file's pairing differ from the preset's: llama family)
MODELS = [
    ("llama-2-7b", lambda p: convert_llama(p, "llama-2-7b"), True),
    ("llama-3.1-8b", lambda p: convert_llama(p, "llama-3.1-8b"), True),
    ("mistral-7b", lambda p: convert_llama(p, "mistral-7b"), True),
    ("qwen2-7b", lambda p: convert_qwen2(p, "qwen2-7b"), False),
    ("qwen2-vl-7b", lambda p: convert_qwen_vl(p, "qwen2-vl-7b", "qwen2vl"), False),
    ("qwen3-vl-8b", lambda p: convert_qwen_vl(p, "qwen3-vl-8b", "qwen3vl"), False),
    ("phi-3-mini-128k", convert_phi3, False),
    ("deepseek-v3", convert_deepseek, False),
    ("command-r", convert_command_r, False),
    ("gpt-neox-20b", convert_gptneox, False),
    ("gpt-j-6b", convert_gptj, False),
    ("glm-4-9b", convert_glm4, False),
]


def expect_same(got: dict, preset: str, pairing_differs: bool) -> None:
    want = rotor.Table(preset=preset, max_len=16).config
    want["max_len"] = _preset_max_len(preset)
    for field, value in want.items():
        if field == "pairing" and pairing_differs:
            assert value == rotor._capi.ROTOR_PAIRING_HALF
            assert got[field] == rotor._capi.ROTOR_PAIRING_INTERLEAVED, preset
            continue
        assert got[field] == value, f"{preset}: {field} is {got[field]}, the preset says {value}"


def _preset_max_len(preset: str) -> int:
    # Table(preset=...) builds a table; Llama 4's 10M positions would be 5 GiB: read the field
    # through the C call instead.
    cfg = rotor._capi.rotor_config()
    lib = rotor._library.library()
    assert lib.rotor_config_preset_sized(ctypes.byref(cfg), ctypes.sizeof(cfg), preset.encode()) == 0
    return cfg.max_len


@pytest.mark.parametrize("preset,convert,pairing_differs", MODELS, ids=[m[0] for m in MODELS])
def test_every_architecture_matches_its_preset(tmp_path, preset, convert, pairing_differs):
    path = convert(tmp_path / f"{preset}.gguf")
    got = rotor.from_gguf(path)
    assert got is not None
    expect_same(got, preset, pairing_differs)
    if preset == "phi-3-mini-128k":
        for which in ("long_factor", "short_factor"):
            want = np.array(hf_config(preset)["rope_scaling"][which], dtype=np.float32)
            np.testing.assert_array_equal(got[which], want)
    # The file also makes a working table (a short one: max_len overridden).
    table = rotor.Table.from_gguf(path, max_len=64)
    x = np.ones((1, 4, 2, max(table.rotary_dim, 8)), dtype=np.float32)
    if table.axes == 1:
        table.apply(x)


@pytest.mark.parametrize("model,convert", [("gemma-3-4b", convert_gemma3), ("command-r7b", convert_cohere2)])
def test_layers_match_the_presets_layer_tables(tmp_path, model, convert):
    path = convert(tmp_path / f"{model}.gguf")
    tables = rotor.preset_layers(model)
    assert rotor.gguf_layers(path) == len(tables)
    for layer, table in enumerate(tables):
        got = rotor.from_gguf(path, layer)
        if table is None:
            assert got is None, f"{model} layer {layer} has no rotary embedding"
            with pytest.raises(rotor.RotorError) as error:
                rotor.Table.from_gguf(path, layer)
            assert error.value.status == rotor.Status.NO_ROTARY
        else:
            expect_same(got, table, False)


def test_llama4_scout(tmp_path):
    path = convert_llama(tmp_path / "scout.gguf", "llama-4-scout", arch="llama4", blocks=48)
    tables = rotor.preset_layers("llama-4-scout")
    assert rotor.gguf_layers(path) == len(tables) == 48
    for layer, table in enumerate(tables):
        got = rotor.from_gguf(path, layer)
        assert (got is None) == (table is None), layer
        if got is not None:
            expect_same(got, table, False)


def test_gemma2_rotates_every_layer_alike(tmp_path):
    path = convert_gemma2(tmp_path / "gemma2.gguf")
    for layer in (0, 1, 41):
        got = rotor.from_gguf(path, layer)
        assert (got["rotary_dim"], got["base"], got["max_len"], got["pairing"], got["scaling"]) == (
            256, 10000.0, 8192, rotor._capi.ROTOR_PAIRING_HALF, rotor._capi.ROTOR_SCALING_NONE)


def test_bytes_and_errors(tmp_path):
    path = convert_llama(tmp_path / "llama.gguf", "llama-3.1-8b")
    data = open(path, "rb").read()
    assert rotor.from_gguf(data) == rotor.from_gguf(path)
    with pytest.raises(rotor.RotorError) as error:
        rotor.from_gguf(data[:-3])  # the rope_freqs tensor now runs past the end
    assert error.value.status == rotor.Status.INVALID_ARGUMENT and "GGUF" in error.value.detail
    with pytest.raises(rotor.RotorError) as error:
        rotor.from_gguf(path, 32)  # 32 layers: 0 .. 31
    assert "block_count" in error.value.detail
    # f16 factor tensors: refused by name (rotor points at the file's floats, it converts nothing)
    config = hf_config("phi-3-mini-128k")
    half = np.array(config["rope_scaling"]["long_factor"], dtype=np.float16)
    f16 = write(tmp_path / "f16.gguf", "phi3",
                {"add_context_length": 131072, "add_block_count": 32, "add_rope_dimension_count": 96,
                 "add_rope_scaling_orig_ctx_len": 4096},
                {"rope_factors_long.weight": half, "rope_factors_short.weight": half})
    with pytest.raises(rotor.RotorError) as error:
        rotor.from_gguf(f16)
    assert error.value.status == rotor.Status.UNSUPPORTED
    assert "rope_factors_long.weight is not f32" in error.value.detail


def test_type_sizes_agree_with_gguf_py():
    """src/model/gguf_image.cpp's ggml type sizes, against gguf-py's GGML_QUANT_SIZES."""
    source = open(os.path.join(DATA, "..", "..", "src", "model", "gguf_image.cpp")).read()
    table = source[source.index("kTypeSizes[] = {"):]
    table = table[:table.index("};")]
    entries = {int(t): (int(b), int(s)) for t, b, s in re.findall(r"\{(\d+), (\d+), (\d+)\}", table)}
    assert len(entries) > 25
    for ggml_type, (block, size) in entries.items():
        assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)] == (block, size), ggml_type
