#!/usr/bin/env python3
"""safetensors interoperability between latent and PyTorch (run through
scripts/safetensors_roundtrip.sh, which sets up the virtual environment).

  python scripts/safetensors_roundtrip.py make-fixtures [--out tests/fixtures/safetensors]
  python scripts/safetensors_roundtrip.py check-latent FILE [FILE ...]

make-fixtures writes, with torch and safetensors.torch.save_file (read by
tests/test_safetensors.cpp):

  mlp.safetensors     state_dict of nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
                      made with torch.manual_seed(0), metadata {"format": "pt"}
  dtypes.safetensors  one tensor per dtype latent reads (F64, F32, F16, BF16, I64, I32, U8,
                      BOOL), edge values (inf, nan, subnormals, rounding ties, int64
                      extremes), a 0-dim and an empty tensor, a 3-d tensor, and metadata
  layout.safetensors  mixed dtypes and names chosen to exercise the key order, no
                      metadata: latent must write the same bytes for the same tensors
  expected.json       what the C++ test compares with (schema below)

expected.json:
  {"torch": ver, "safetensors": ver,
   "mlp":    {"file", "input": [[3 floats] x 5], "output": [[2] x 5] (float32 forward),
              "output_f64": [[2] x 5] (the same weights in float64)},
   "dtypes": {"file", "metadata": {...},
              "tensors": {name: {"dtype", "shape", "values": [flat, row-major]}}},
   "layout": {"file", "tensors": [{"name", "dtype", "shape", "values"}] in creation order}}
  Values are the exact stored values as numbers (floats: shortest repr of the float64
  value, exact for every F16/BF16/F32/F64 value); "inf", "-inf" and "nan" are strings.
  "f16" and "bf16" in dtypes are torch's conversions of "f32_source" (round to nearest
  even), so the test checks latent's encoder against torch bit for bit.

check-latent loads files written by latent (tests/safetensors_writer.cpp) and checks:
  * safetensors reads them and its own serialization of the same tensors lays them out
    identically: same tensor order, offsets, header padding and data bytes (and the same
    bytes for the whole file when the metadata has at most one key; with more, only the
    order of the "__metadata__" keys may differ, since safetensors' is a hash map's);
  * metadata "latent.model" == "Sequential(Linear(3,4),ReLU,Linear(4,2))": the file loads
    into that PyTorch model with load_state_dict(strict=True), and the model's output on
    "latent.input" matches latent's output "latent.output" (|diff| <= 1e-6, float32);
  * metadata "latent.expected" (JSON {name: [flat values]}): every listed tensor holds
    exactly those values.
Exit status 0 when every check passes.
"""
import argparse
import json
import math
import os
import struct
import sys

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

MLP_NAME = "Sequential(Linear(3,4),ReLU,Linear(4,2))"


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def num(x):
    """A JSON-safe exact number: floats as float64 (shortest repr), inf/nan as strings."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def flat_values(t):
    if t.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        return [num(v) for v in t.double().flatten().tolist()]
    return [num(v) for v in t.flatten().tolist()]


DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def make_fixtures(out):
    os.makedirs(out, exist_ok=True)

    # 1. A small model's state_dict, as PyTorch users save it.
    torch.manual_seed(0)
    model = mlp()
    save_file(model.state_dict(), os.path.join(out, "mlp.safetensors"), metadata={"format": "pt"})
    x = torch.linspace(-1, 1, 15, dtype=torch.float32).reshape(5, 3)
    with torch.no_grad():
        y = model(x)
        y64 = mlp().double()
        y64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        out64 = y64(x.double())
    mlp_expected = {"file": "mlp.safetensors", "input": x.double().tolist(), "output": y.double().tolist(),
                    "output_f64": out64.tolist()}

    # 2. Every dtype latent reads, with edge values.
    f32_source = torch.tensor([
        0.0, -0.0, 1.0, -2.5, 0.1, -1.0 / 3.0, 3.14159265,
        1 + 2**-11, 1 + 3 * 2**-11,          # F16 ties: to even (down, then up)
        1 + 2**-8, 1 + 3 * 2**-8,            # BF16 ties
        65504.0, 65519.0, 65520.0, 1e5,      # F16 max, last below the overflow tie, the tie, overflow
        2**-14, 2**-14 - 2**-25,             # F16 smallest normal; tie between subnormal and normal
        2**-24, 2**-25, 1.5 * 2**-25, 3 * 2**-25, 1e-8,  # F16 subnormals and underflow
        2**-133, 2**-134, 1.17549435e-38, 1e-45,          # BF16 / F32 subnormals
        3.4028235e38, 3.3e38, -3.3e38,                    # F32 max (BF16 overflow), near it
        float("inf"), float("-inf"), float("nan")], dtype=torch.float32)
    gen = torch.Generator().manual_seed(1)
    f32_source = torch.cat([f32_source, torch.randn(16, generator=gen) * 100])
    tensors = {
        "f64": torch.tensor([0.1, -1e300, 5e-324, 1.0 / 3.0, float("inf"), float("nan"), -0.0], dtype=torch.float64),
        "f32_source": f32_source,
        "f16": f32_source.to(torch.float16),
        "bf16": f32_source.to(torch.bfloat16),
        "i64": torch.tensor([-(2**63), -1, 0, 1, 2**53 + 1, 2**63 - 1], dtype=torch.int64),
        "i32": torch.tensor([-(2**31), -1, 0, 7, 2**31 - 1], dtype=torch.int32),
        "u8": torch.tensor([0, 1, 127, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True]),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "cube": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4),
    }
    metadata = {"format": "pt", "note": "latent safetensors fixture", "unicode": "h\u00e9llo \u2713 \"quoted\""}
    save_file(tensors, os.path.join(out, "dtypes.safetensors"), metadata=metadata)
    dtypes_expected = {"file": "dtypes.safetensors", "metadata": metadata,
                       "tensors": {k: {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "values": flat_values(v)}
                                   for k, v in tensors.items()}}

    # 3. Key order and layout: names that sort differently as bytes and as text, every dtype.
    layout = [
        ("b", torch.tensor([1.5, -2.0], dtype=torch.float16)),
        ("a", torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32)),
        ("Z", torch.tensor(4.0, dtype=torch.float32)),
        ("a.10", torch.tensor([5.0], dtype=torch.float32)),
        ("a.9", torch.tensor([6.0], dtype=torch.float32)),
        ("\u00e9", torch.tensor([7.0], dtype=torch.float32)),
        ("c", torch.tensor([-3, 9], dtype=torch.int64)),
        ("y", torch.tensor([0.25], dtype=torch.float64)),
        ("x", torch.tensor([11, -12, 13], dtype=torch.int32)),
        ("z", torch.tensor([0.5, 96.0], dtype=torch.bfloat16)),
        ("u", torch.tensor([200], dtype=torch.uint8)),
        ("B", torch.tensor([True, False, True])),
        ("e", torch.zeros(2, 0, dtype=torch.float32)),
    ]
    save_file(dict(layout), os.path.join(out, "layout.safetensors"))
    layout_expected = {"file": "layout.safetensors",
                       "tensors": [{"name": k, "dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape),
                                    "values": flat_values(v)} for k, v in layout]}

    expected = {"generator": "scripts/safetensors_roundtrip.py make-fixtures", "torch": torch.__version__,
                "safetensors": safetensors.__version__, "mlp": mlp_expected, "dtypes": dtypes_expected,
                "layout": layout_expected}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    total = 0
    for name in sorted(os.listdir(out)):
        size = os.path.getsize(os.path.join(out, name))
        total += size
        print(f"  {os.path.join(out, name)}: {size} bytes")
    print(f"wrote {total} bytes with torch {torch.__version__}, safetensors {safetensors.__version__}")


def header_of(data):
    n = struct.unpack("<Q", data[:8])[0]
    raw = data[8:8 + n]
    return n, raw, json.loads(raw, object_pairs_hook=lambda pairs: pairs)


def check_file(path):
    problems = []
    with open(path, "rb") as f:
        data = f.read()
    tensors = load_file(path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}

    # Layout: safetensors' own serialization of the same tensors.
    ours_n, ours_raw, ours = header_of(data)
    ref = save(tensors, metadata=metadata or None)
    ref_n, ref_raw, theirs = header_of(ref)
    padding = len(ours_raw) - len(ours_raw.rstrip(b" "))
    if ours_n % 8 != 0 or padding >= 8:
        problems.append(f"header length {ours_n} with {padding} spaces: not the minimal padding to 8 bytes")
    ours_entries = [(k, v) for k, v in ours if k != "__metadata__"]
    ref_entries = [(k, v) for k, v in theirs if k != "__metadata__"]
    if ours_entries != ref_entries:
        problems.append(f"tensor entries differ from safetensors' layout:\n  latent:      {ours_entries}\n"
                        f"  safetensors: {ref_entries}")
    if ours and ours[0][0] != "__metadata__" and metadata:
        problems.append("__metadata__ is not the first key")
    if dict(dict(ours).get("__metadata__", [])) != dict(dict(theirs).get("__metadata__", [])):
        problems.append("metadata differs")
    if ours_n != ref_n:
        problems.append(f"header length {ours_n} != safetensors' {ref_n}")
    if data[8 + ours_n:] != ref[8 + ref_n:]:
        problems.append("data buffers differ")
    identical = data == ref
    if len(metadata) <= 1 and not identical:
        problems.append("file bytes differ from safetensors.torch.save of the same tensors")
    if identical:
        layout_note = "byte-identical to safetensors.torch.save"
    elif problems:
        layout_note = "NOT laid out as safetensors.torch.save lays out the same tensors"
    else:
        layout_note = "same layout and data as safetensors.torch.save (metadata key order aside)"

    notes = [f"{len(tensors)} tensors ({', '.join(sorted({DTYPE_NAMES.get(t.dtype, str(t.dtype)) for t in tensors.values()}))})",
             layout_note]

    # The model check.
    if metadata.get("latent.model") == MLP_NAME:
        model = mlp()
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as e:
            problems.append(f"load_state_dict(strict=True) failed: {e}")
        else:
            x = torch.tensor(json.loads(metadata["latent.input"]), dtype=torch.float32)
            want = torch.tensor(json.loads(metadata["latent.output"]), dtype=torch.float32)
            with torch.no_grad():
                got = model(x)
            diff = (got - want).abs().max().item()
            if not diff <= 1e-6:
                problems.append(f"PyTorch's output differs from latent's by {diff}:\n{got}\n{want}")
            notes.append(f"loads into {MLP_NAME} with strict=True; output on {tuple(x.shape)} input matches "
                         f"latent's (max |diff| {diff:.2e})")

    # Exact values.
    if "latent.expected" in metadata:
        expected = json.loads(metadata["latent.expected"])
        for name, values in expected.items():
            if name not in tensors:
                problems.append(f"tensor {name!r} is missing")
                continue
            got = flat_values(tensors[name])
            if got != values:
                problems.append(f"tensor {name!r}: {got} != expected {values}")
        notes.append(f"{len(expected)} tensors hold exactly the values latent wrote")

    status = "FAIL" if problems else "ok"
    print(f"{status}  {path}: " + "; ".join(notes))
    for p in problems:
        print(f"      {p}")
    return not problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    mk = sub.add_parser("make-fixtures")
    mk.add_argument("--out", default="tests/fixtures/safetensors")
    ck = sub.add_parser("check-latent")
    ck.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.mode == "make-fixtures":
        make_fixtures(args.out)
        return 0
    ok = all([check_file(f) for f in args.files])
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
