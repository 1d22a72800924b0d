#!/usr/bin/env python3
"""Writes tests/golden/vl_position_ids.txt: Qwen-VL M-RoPE position ids computed by transformers'
own get_rope_index, for rotor_vl_position_ids (tests/test_vl_position_ids.cpp and the bindings'
tests read it).

Run once per rule, each with the transformers that defines it, then merge:

    python gen_vl_position_ids.py --rule transformers5 > /tmp/hf5.txt      # transformers 5.x
    PYTHONPATH=<transformers 4.49 + tokenizers 0.21> python gen_vl_position_ids.py --rule original > /tmp/o1.txt
    PYTHONPATH=<transformers 4.57> python gen_vl_position_ids.py --rule original --models qwen3_vl > /tmp/o2.txt
    cat /tmp/hf5.txt /tmp/o1.txt /tmp/o2.txt > vl_position_ids.txt

"original" is the Qwen team's rule as it first shipped: transformers 4.49 for Qwen2-VL and
Qwen2.5-VL (later 4.x releases convert second_per_grid to an integer before scaling, which 4.49
did not), 4.57 for Qwen3-VL (its first release). The functions run are the models' own, called
as methods on a minimal object holding the config values they read (no weights are built).

The file is float-free: ids are integers, and seconds_per_grid is written as its float32 bits.
Format, one case per block:
    case <name> <model> <rule> <transformers version>
    merge <spatial_merge_size> tps <tokens_per_second>
    kinds <run>...        each run "<kind>x<count>" (0 text, 1 image, 2 video)
    images <t h w>...     (possibly none)
    videos <t h w>...
    spg <hex float32 bits>... | spg none
    t <ids>  /  h <ids>  /  w <ids>
    next <largest id + 1>
    end
"""
from __future__ import annotations

import argparse
import functools
import struct
import sys
import types

import torch
import transformers

VISION_START, VISION_END, IMAGE, VIDEO, TEXT = 151652, 151653, 151655, 151656, 1000


def f32_bits(x: float) -> str:
    return format(struct.unpack("<I", struct.pack("<f", x))[0], "08x")


class Layout:
    """A prompt as segments: text, images and videos, each vision item between vision_start and
    vision_end tokens (text), as the processors write them."""

    def __init__(self, merge: int):
        self.merge, self.tokens, self.kinds = merge, [], []
        self.images, self.videos, self.spg = [], [], []

    def text(self, n: int):
        self.tokens += [TEXT] * n
        self.kinds += [0] * n
        return self

    def _block(self, kind: int, count: int):
        self.tokens += [VISION_START] + [IMAGE if kind == 1 else VIDEO] * count + [VISION_END]
        self.kinds += [0] + [kind] * count + [0]

    def image(self, t: int, h: int, w: int):
        self.images.append((t, h, w))
        self._block(1, t * (h // self.merge) * (w // self.merge))
        return self

    def video(self, t: int, h: int, w: int, spg: float = 1.0, frames_with_timestamps: bool = False):
        self.videos.append((t, h, w))
        self.spg.append(spg)
        if frames_with_timestamps:  # Qwen3-VL: "<t seconds>" text, then each frame in its own block
            for _ in range(t):
                self.text(3)
                self._block(2, (h // self.merge) * (w // self.merge))
        else:
            self._block(2, t * (h // self.merge) * (w // self.merge))
        return self


def cases(model: str):
    """(name, layout, tokens_per_second, with_spg) for one model."""
    q3 = model == "qwen3_vl"
    out = []

    def add(name, layout, tps=2, with_spg=True):
        out.append((name, layout, tps, with_spg))

    add("text_only", Layout(2).text(7))
    add("one_image", Layout(2).text(5).image(1, 4, 6).text(4))
    add("image_first", Layout(2).image(1, 6, 4).text(3))
    add("image_last", Layout(2).text(2).image(1, 2, 2))
    add("images_grids", Layout(2).text(3).image(1, 8, 4).text(2).image(1, 2, 10).text(1).image(1, 4, 4).text(5))
    add("image_tall", Layout(2).text(1).image(1, 14, 2).text(2))
    add("image_t2", Layout(2).text(2).image(2, 4, 4).text(3))
    add("merge1", Layout(1).text(2).image(1, 3, 5).text(2))
    add("merge3", Layout(3).text(2).image(1, 6, 9).text(2))
    add("video_small", Layout(2).text(4).video(3, 4, 4, frames_with_timestamps=q3).text(3))
    add("video_long_t", Layout(2).text(2).video(9, 4, 2, frames_with_timestamps=q3).text(4))
    add("video_wide", Layout(2).text(2).video(2, 2, 12, frames_with_timestamps=q3).text(2))
    add("video_spg_half", Layout(2).text(2).video(5, 4, 4, 0.5, frames_with_timestamps=q3).text(2))
    add("video_spg_two_thirds", Layout(2).text(1).video(7, 2, 4, 2.0 / 3.0, frames_with_timestamps=q3).text(2))
    add("video_spg_1_5", Layout(2).text(1).video(4, 4, 2, 1.5, frames_with_timestamps=q3).text(1), tps=4)
    add("video_spg_tenth", Layout(2).text(1).video(12, 2, 2, 0.1, frames_with_timestamps=q3).text(1), tps=25)
    # Float32 products whose truncation depends on the order of the two multiplications (5.x:
    # t * (tps * spg); Qwen's code: (t * spg) * tps): 2 / 0.6 fps and 2 / (3 / 7) fps.
    add("video_spg_order_a", Layout(2).text(1).video(7, 2, 2, 2.0 / 0.6, q3).text(1), tps=25)
    add("video_spg_order_b", Layout(2).text(1).video(8, 2, 2, 2.0 / (3.0 / 7.0), q3).text(1), tps=3)
    add("video_spg_none", Layout(2).text(2).video(4, 2, 2, frames_with_timestamps=q3).text(2), tps=3, with_spg=False)
    add("videos_two", Layout(2).text(2).video(3, 4, 4, 1.0, q3).text(2).video(2, 2, 6, 2.0, q3).text(3))
    add("mixed", Layout(2).text(3).image(1, 4, 4).text(2).video(4, 6, 2, 0.5, q3).text(1).image(1, 2, 8)
        .text(2).video(2, 4, 4, 1.0, q3).text(4))
    add("video_then_image", Layout(2).text(1).video(6, 2, 2, 1.0, q3).text(1).image(1, 4, 4).text(2))
    add("video_end", Layout(2).text(3).video(5, 2, 4, 1.0, q3))
    add("big_ids", Layout(2).text(300).image(1, 40, 30).text(20).video(3, 16, 20, 2.0, q3).text(10), tps=2)
    return out


class Holder:
    """The object get_rope_index runs on: its config values and its own get_vision_position_ids."""


def make_self(cls, merge: int, tps: int):
    holder = Holder()
    holder.config = types.SimpleNamespace(
        vision_config=types.SimpleNamespace(spatial_merge_size=merge, tokens_per_second=tps),
        image_token_id=IMAGE, video_token_id=VIDEO, vision_start_token_id=VISION_START)
    if hasattr(cls, "get_vision_position_ids"):
        holder.get_vision_position_ids = functools.partial(cls.get_vision_position_ids, holder)
    return holder


def rope_index_class(model: str):
    if model == "qwen2_vl":
        from transformers.models.qwen2_vl import modeling_qwen2_vl as mod
        names = ["Qwen2VLModel", "Qwen2VLForConditionalGeneration"]
    elif model == "qwen2_5_vl":
        from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as mod
        names = ["Qwen2_5_VLModel", "Qwen2_5_VLForConditionalGeneration"]
    else:
        from transformers.models.qwen3_vl import modeling_qwen3_vl as mod
        names = ["Qwen3VLModel"]
    for name in names:  # the class that defines get_rope_index in this release
        cls = getattr(mod, name, None)
        if cls is not None and "get_rope_index" in vars(cls):
            return cls
    raise SystemExit(f"no get_rope_index for {model} in transformers {transformers.__version__}")


def run(model: str, rule: str, name: str, layout: Layout, tps: int, with_spg: bool) -> str:
    cls = rope_index_class(model)
    holder = make_self(cls, layout.merge, tps)
    input_ids = torch.tensor([layout.tokens])
    kwargs = {}
    if layout.images:
        kwargs["image_grid_thw"] = torch.tensor(layout.images)
    if layout.videos:
        kwargs["video_grid_thw"] = torch.tensor(layout.videos)
    spg = layout.spg if (with_spg and layout.videos and model == "qwen2_5_vl") else None
    if spg is not None:
        kwargs["second_per_grid_ts"] = torch.tensor(spg)  # float32, as the processor returns it
    if rule == "transformers5":
        kwargs["mm_token_type_ids"] = torch.tensor([layout.kinds], dtype=torch.int32)
    if not layout.images and not layout.videos and rule == "original":
        # 4.x returns arange for a prompt without vision input (its else branch); call it the same way.
        pass
    ids, delta = cls.get_rope_index(holder, input_ids, **kwargs)
    ids = ids[:, 0, :].tolist()
    n = len(layout.tokens)
    next_position = int(delta.reshape(-1)[0]) + n
    runs, prev, count = [], None, 0
    for k in layout.kinds:
        if k == prev:
            count += 1
        else:
            if prev is not None:
                runs.append(f"{prev}x{count}")
            prev, count = k, 1
    runs.append(f"{prev}x{count}")
    lines = [f"case {name} {model} {rule} {transformers.__version__}",
             f"merge {layout.merge} tps {tps}",
             "kinds " + " ".join(runs),
             "images" + "".join(f" {t} {h} {w}" for t, h, w in layout.images),
             "videos" + "".join(f" {t} {h} {w}" for t, h, w in layout.videos),
             "spg " + (" ".join(f32_bits(s) for s in spg) if spg is not None else "none"),
             "t " + " ".join(map(str, ids[0])),
             "h " + " ".join(map(str, ids[1])),
             "w " + " ".join(map(str, ids[2])),
             f"next {next_position}",
             "end"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rule", choices=["transformers5", "original"], required=True)
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args()
    models = args.models or (["qwen2_vl", "qwen2_5_vl", "qwen3_vl"] if args.rule == "transformers5"
                             else ["qwen2_vl", "qwen2_5_vl"])
    print(f"# gen_vl_position_ids.py --rule {args.rule}: transformers {transformers.__version__}, "
          f"torch {torch.__version__}")
    for model in models:
        for name, layout, tps, with_spg in cases(model):
            print(run(model, args.rule, name, layout, tps, with_spg))


if __name__ == "__main__":
    main()
