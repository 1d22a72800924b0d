#!/usr/bin/env python3
"""Checks that the language bindings declare exactly what include/rotor/rotor.h declares.

    python3 bindings/check_header.py [--header include/rotor/rotor.h] [--rust FILE] [--python FILE]

The header is parsed with regular expressions (it is written in a plain, regular style: one
declaration per statement, no nested parentheses in prototypes other than a parenthesised
name). From it come every ROTOR_API function (name, argument types, return type), every enum
(each enumerator's value), every struct (field names and types, in order) and every integer
`#define ROTOR_*` (the version, ROTOR_ARENA_ALIGNMENT, ROTOR_MAX_AXES_ROTARY_DIM,
ROTOR_EPOCH_HISTORY: values both bindings hard-code). Then:

  - the Rust sys crate (bindings/rust/rotor-sys/src/lib.rs): its `extern "C"` block must declare
    every function with the same argument count and the Rust spelling of each C type, its
    `pub const ROTOR_*` the same enumerator and #define values (and no ROTOR_* constant the
    header lacks), each enum a `pub type ... = i32` (rotor's enums are 4 bytes by
    ROTOR_*_FORCE_32BIT), each `#[repr(C)] pub struct` the same fields;
  - the Python package's ctypes layer (bindings/python/src/rotor/_capi.py, imported by path: it
    needs nothing but the standard library): its ENUMS, its DEFINES, its Structure classes'
    _fields_ and its PROTOTYPES (names, argument counts, ctypes types).

Anything missing, extra or different is printed and the exit status is 1: a binding cannot drift
from the header without a test failing. The header is the truth; the fix is in the binding.
"""
from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# C scalar types and their Rust spelling. Enum types keep their C name in Rust (a type alias).
RUST_SCALARS = {
    "void": "c_void", "char": "c_char", "int": "c_int", "float": "f32", "double": "f64",
    "size_t": "usize", "uint8_t": "u8", "uint16_t": "u16", "uint32_t": "u32", "uint64_t": "u64",
    "int8_t": "i8", "int16_t": "i16", "int32_t": "i32", "int64_t": "i64",
}
CTYPES_SCALARS = {
    "int": ctypes.c_int, "float": ctypes.c_float, "double": ctypes.c_double, "size_t": ctypes.c_size_t,
    "uint8_t": ctypes.c_uint8, "uint16_t": ctypes.c_uint16, "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64, "int8_t": ctypes.c_int8, "int16_t": ctypes.c_int16,
    "int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64,
}


# --------------------------------------------------------------------------------------------
# The header
# --------------------------------------------------------------------------------------------

class CType:
    """A C type as the base name, its const, one (const-after) flag per '*' from the base out,
    and the array lengths of a field such as `uint32_t mrope_section[3]` (outermost first)."""

    def __init__(self, base: str, base_const: bool, stars: list, dims: tuple = ()):
        self.base, self.base_const, self.stars, self.dims = base, base_const, stars, tuple(dims)

    def __str__(self):
        text = ("const " if self.base_const else "") + self.base
        for const in self.stars:
            text += " *" + (" const" if const else "")
        return text + "".join(f"[{n}]" for n in self.dims)

    def element(self) -> "CType":
        """The type of one element of an array field (the type itself when not an array)."""
        return CType(self.base, self.base_const, self.stars, self.dims[1:])

    def rust(self, enums: set) -> str:
        """The Rust spelling: `*const T` when what is pointed at is const, `*mut T` otherwise;
        `[T; N]` for an array field (a Rust array has C's layout, element for element)."""
        if self.dims:
            return f"[{self.element().rust(enums)}; {self.dims[0]}]"
        text = self.base if self.base in enums or self.base not in RUST_SCALARS else RUST_SCALARS[self.base]
        pointee_const = self.base_const
        for const in self.stars:
            text = ("*const " if pointee_const else "*mut ") + text
            pointee_const = const
        return "()" if text == "c_void" else text


POINTER_WIDTH_IF = re.compile(r"#\s*if\s+UINTPTR_MAX\s*(>|<=)\s*0xffffffffu?\s*$")


def select_pointer_width(text: str, bits: int) -> str:
    """Keeps the lines of `#if UINTPTR_MAX > 0xffffffffu` (64-bit) or `<=` (32-bit) blocks that
    hold for a target of `bits`-bit pointers (rotor_config places its padding by pointer width);
    other conditional blocks are kept whole (they only choose macro definitions)."""
    kept, stack = [], []  # stack: for each open #if, whether its lines are kept
    for line in text.split("\n"):
        stripped = line.strip()
        m = POINTER_WIDTH_IF.match(stripped)
        if m:
            stack.append((m.group(1) == ">") == (bits == 64))
            continue
        if re.match(r"#\s*if", stripped):
            stack.append(None)
        elif re.match(r"#\s*else", stripped) and stack and stack[-1] is not None:
            stack[-1] = not stack[-1]
            continue
        elif re.match(r"#\s*endif", stripped) and stack:
            if stack.pop() is not None:
                continue
        if all(keep is not False for keep in stack):
            kept.append(line)
    return "\n".join(kept)


def strip_comments(text: str, bits: int = 64) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = select_pointer_width(text, bits)
    return re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)  # preprocessor lines (ROTOR_API's own)


def parse_declarator(decl: str) -> tuple:
    """'const rotor_kv_cache *const *caches' -> ('caches', CType). A name-less type gives ''.
    Array lengths after the name ('uint32_t mrope_section[3]') become the type's dims: without
    them an array field would read as one scalar and a binding's layout could drift unseen."""
    dims = tuple(int(n, 0) for n in re.findall(r"\[\s*(\w+)\s*\]", decl))
    decl = re.sub(r"\[[^\]]*\]", " ", decl)
    tokens = re.findall(r"[A-Za-z_]\w*|\*", decl)
    name = ""
    if len(tokens) > 1 and tokens[-1] not in ("*", "const") and re.match(r"\w", tokens[-1]):
        # The last identifier is the name unless the declaration is a bare type ("void").
        words = [t for t in tokens if t not in ("*", "const")]
        if len(words) > 1:
            name = tokens.pop()
    base_const, base, stars = False, None, []
    for token in tokens:
        if token == "const":
            if stars:
                stars[-1] = True
            else:
                base_const = True
        elif token == "*":
            stars.append(False)
        elif token in ("struct", "enum", "unsigned", "signed"):
            raise ValueError(f"unsupported declaration in rotor.h: {decl!r}")
        else:
            base = token
    return name, CType(base, base_const, stars, dims)


# `#define ROTOR_NAME 64` (an integer, perhaps parenthesised, perhaps with a u/U suffix).
INTEGER_DEFINE = re.compile(r"^\s*#\s*define\s+(ROTOR_\w+)\s+\(?\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))[uUlL]*\s*\)?\s*$",
                            re.M)


def parse_defines(raw: str) -> dict:
    """Every integer-valued ROTOR_* macro: name -> value. Read before strip_comments drops the
    preprocessor lines; macros that expand to anything else (ROTOR_API) are not constants."""
    text = re.sub(r"/\*.*?\*/", " ", raw, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return {m.group(1): int(m.group(2), 0) for m in INTEGER_DEFINE.finditer(text)}


def parse_header(path: str, bits: int = 64) -> dict:
    raw = open(path, encoding="utf-8").read()
    text = strip_comments(raw, bits)
    functions = {}
    # ROTOR_API <return type> [(]name[)](<args>);  the parentheses keep a same-named macro away.
    for m in re.finditer(r"ROTOR_API\s+([^;(]*?)\(?\s*\b(rotor_\w+)\s*\)?\s*\(([^()]*)\)\s*;", text):
        _, ret = parse_declarator(m.group(1))
        args = [a.strip() for a in m.group(3).split(",")]
        if args == ["void"]:
            args = []
        functions[m.group(2)] = (ret, [parse_declarator(a)[1] for a in args])
    enums = {}
    for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
        values = {}
        for entry in m.group(2).split(","):
            if entry.strip():
                name, value = (part.strip() for part in entry.split("="))
                values[name] = int(value, 0)
        enums[m.group(3)] = values
    structs = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
        fields = []
        for statement in m.group(2).split(";"):
            if not statement.strip():
                continue
            # 'const float *long_factor, *short_factor': the base type applies to each name.
            first, *more = statement.split(",")
            name, ctype = parse_declarator(first)
            fields.append((name, ctype))
            base_prefix = ("const " if ctype.base_const else "") + ctype.base + " "
            for extra in more:
                fields.append(parse_declarator(base_prefix + extra))
        structs[m.group(3)] = fields
    callbacks = set(re.findall(r"typedef\s+[^;]*\(\s*\*\s*(\w+)\s*\)\s*\(", text))
    opaque = set(re.findall(r"typedef\s+struct\s+(\w+)\s+\1\s*;", text))
    defines = parse_defines(raw)
    if not functions or not enums or not structs or not defines:
        raise SystemExit(f"check_header: could not parse {path}")
    return {"functions": functions, "enums": enums, "structs": structs, "callbacks": callbacks,
            "opaque": opaque, "defines": defines}


# --------------------------------------------------------------------------------------------
# Rust
# --------------------------------------------------------------------------------------------

def normalise_rust_type(text: str) -> str:
    text = re.sub(r"\b(std::os::raw|core::ffi|std::ffi)::", "", text.strip())
    text = re.sub(r"\*\s*(const|mut)\s+", r"*\1 ", text)
    return re.sub(r"\s+", " ", text)


def rust_fields(body: str, bits: int) -> list:
    """(name, type) of a struct body, dropping fields whose #[cfg(target_pointer_width)] is not bits."""
    fields = []
    for field in (f.strip() for f in body.split(",")):
        if not field:
            continue
        widths = re.findall(r'#\[cfg\(target_pointer_width\s*=\s*"(\d+)"\)\]', field)
        if widths and int(widths[0]) != bits:
            continue
        field = re.sub(r"#\[[^\]]*\]", "", field).strip()
        name, ctype = field.split(":", 1)
        fields.append((name.replace("pub", "").strip(), normalise_rust_type(ctype)))
    return fields


def check_rust(header: dict, path: str, bits: int = 64) -> list:
    source = re.sub(r"//[^\n]*", "", open(path, encoding="utf-8").read())
    problems = []
    enums = set(header["enums"])

    declared = {}
    for block in re.findall(r'extern\s+"C"\s*\{(.*?)\n\}', source, flags=re.S):
        for m in re.finditer(r"pub\s+fn\s+(\w+)\s*\(([^)]*)\)\s*(?:->\s*([^;]+))?;", block):
            args = [a for a in (x.strip() for x in m.group(2).split(",")) if a]
            types = [normalise_rust_type(a.split(":", 1)[1]) for a in args]
            declared[m.group(1)] = (normalise_rust_type(m.group(3)) if m.group(3) else "()", types)
    for name, (ret, args) in header["functions"].items():
        if name not in declared:
            problems.append(f"rust: function {name} is not declared")
            continue
        rust_ret, rust_args = declared[name]
        want_args = [a.rust(enums) for a in args]
        if len(rust_args) != len(want_args):
            problems.append(f"rust: {name} takes {len(rust_args)} arguments, the header {len(want_args)}")
        elif rust_args != want_args:
            problems.append(f"rust: {name} argument types {rust_args}, want {want_args}")
        if rust_ret != ret.rust(enums):
            problems.append(f"rust: {name} returns {rust_ret}, want {ret.rust(enums)}")
    for name in sorted(set(declared) - set(header["functions"])):
        problems.append(f"rust: {name} is declared but not in the header")

    constants = {m.group(1): int(m.group(2).replace("_", ""), 0)
                 for m in re.finditer(r"pub\s+const\s+(ROTOR_\w+)\s*:\s*\w+\s*=\s*(-?(?:0x)?[0-9a-fA-F_]+)\s*;", source)}
    aliases = {m.group(1): m.group(2) for m in re.finditer(r"pub\s+type\s+(\w+)\s*=\s*([^;]+);", source)}
    for enum, values in header["enums"].items():
        if aliases.get(enum) != "i32":
            problems.append(f"rust: enum {enum} must be `pub type {enum} = i32;` (4 bytes, any value)")
        for name, value in values.items():
            if constants.get(name) != value:
                problems.append(f"rust: {name} is {constants.get(name)}, the header says {value}")
    for name, value in header["defines"].items():
        if constants.get(name) != value:
            problems.append(f"rust: {name} is {constants.get(name)}, the header #defines {value}")
    known = set(header["defines"]).union(*header["enums"].values())
    for name in sorted(set(constants) - known):
        problems.append(f"rust: {name} is a constant the header does not define")
    for callback in header["callbacks"]:
        if callback not in aliases:
            problems.append(f"rust: callback type {callback} is not declared")

    structs = {}
    for m in re.finditer(r"#\[repr\(C\)\][^{;]*?pub\s+struct\s+(\w+)\s*\{(.*?)\}", source, flags=re.S):
        structs[m.group(1)] = rust_fields(m.group(2), bits)
    for name, fields in header["structs"].items():
        want = [(field, ctype.rust(enums)) for field, ctype in fields]
        if name not in structs:
            problems.append(f"rust: struct {name} is not declared")
        elif structs[name] != want:
            problems.append(f"rust ({bits}-bit): struct {name} fields\n    {structs[name]}\n  the header\n    {want}")
    for name in header["opaque"]:
        if not re.search(rf"pub\s+struct\s+{name}\b", source):
            problems.append(f"rust: opaque type {name} is not declared")
    return problems


# --------------------------------------------------------------------------------------------
# Python (ctypes)
# --------------------------------------------------------------------------------------------

def load_capi(path: str):
    spec = importlib.util.spec_from_file_location("rotor_capi_under_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ctypes_matches(ctype: CType, python_type, header: dict, capi) -> bool:
    """Whether the ctypes type passes (and lays out) what the C type does."""
    if ctype.dims:
        # An array field: a ctypes array (c_uint32 * 3) of the same length and element type.
        return (getattr(python_type, "_length_", None) == ctype.dims[0] and issubclass(python_type, ctypes.Array)
                and ctypes_matches(ctype.element(), python_type._type_, header, capi))
    if ctype.stars:
        if python_type in (ctypes.c_void_p, ctypes.c_char_p):
            return True  # any pointer may travel as an address; char* as bytes
        if ctype.base in header["callbacks"]:
            return False
        target = getattr(python_type, "_type_", None)
        if target is None or len(ctype.stars) == 0:
            return False
        inner = CType(ctype.base, ctype.base_const, ctype.stars[:-1])
        return ctypes_matches(inner, target, header, capi)
    if ctype.base in header["enums"]:
        return python_type is ctypes.c_int32 or python_type is ctypes.c_int
    if ctype.base in header["structs"]:
        return python_type is getattr(capi, ctype.base, None)
    if ctype.base in header["callbacks"]:
        return python_type is getattr(capi, ctype.base, None)
    if ctype.base == "void":
        return python_type is None
    return CTYPES_SCALARS.get(ctype.base) is python_type


def check_python(header: dict, path: str) -> list:
    capi = load_capi(path)
    problems = []
    for name, (ret, args) in header["functions"].items():
        if name not in capi.PROTOTYPES:
            problems.append(f"python: function {name} is not in PROTOTYPES")
            continue
        restype, argtypes = capi.PROTOTYPES[name]
        if len(argtypes) != len(args):
            problems.append(f"python: {name} takes {len(argtypes)} arguments, the header {len(args)}")
            continue
        for i, (ctype, python_type) in enumerate(zip(args, argtypes)):
            if not ctypes_matches(ctype, python_type, header, capi):
                problems.append(f"python: {name} argument {i} is {python_type}, the header {ctype}")
        if not ctypes_matches(ret, restype, header, capi):
            problems.append(f"python: {name} returns {restype}, the header {ret}")
    for name in sorted(set(capi.PROTOTYPES) - set(header["functions"])):
        problems.append(f"python: {name} is in PROTOTYPES but not in the header")
    for enum, values in header["enums"].items():
        if capi.ENUMS.get(enum) != values:
            problems.append(f"python: enum {enum} is {capi.ENUMS.get(enum)}, the header {values}")
    for name in sorted(set(capi.ENUMS) - set(header["enums"])):
        problems.append(f"python: enum {name} is not in the header")
    defines = getattr(capi, "DEFINES", {})
    for name, value in header["defines"].items():
        if defines.get(name) != value:
            problems.append(f"python: DEFINES[{name!r}] is {defines.get(name)}, the header #defines {value}")
    for name in sorted(set(defines) - set(header["defines"])):
        problems.append(f"python: DEFINES[{name!r}] is not #defined by the header")
    for name, fields in header["structs"].items():
        struct = getattr(capi, name, None)
        if struct is None:
            problems.append(f"python: struct {name} is not defined")
            continue
        got = [field[0] for field in struct._fields_]
        if got != [field for field, _ in fields]:
            problems.append(f"python: struct {name} fields {got}, the header {[f for f, _ in fields]}")
            continue
        for (field, ctype), (_, python_type) in zip(fields, struct._fields_):
            if not ctypes_matches(ctype, python_type, header, capi):
                problems.append(f"python: {name}.{field} is {python_type}, the header {ctype}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--header", default=os.path.join(REPO, "include", "rotor", "rotor.h"))
    parser.add_argument("--rust", default=os.path.join(HERE, "rust", "rotor-sys", "src", "lib.rs"))
    parser.add_argument("--python", default=os.path.join(HERE, "python", "src", "rotor", "_capi.py"))
    parser.add_argument("--only", choices=("rust", "python"), help="check one binding")
    options = parser.parse_args()
    host_bits = 8 * ctypes.sizeof(ctypes.c_void_p)
    header = parse_header(options.header, host_bits)
    problems = []
    if options.only in (None, "rust"):
        # The Rust source serves every target: check it for 64- and 32-bit pointers alike.
        for bits in (64, 32):
            problems += [p for p in check_rust(parse_header(options.header, bits), options.rust, bits)
                         if p not in problems]
    if options.only in (None, "python"):
        problems += check_python(header, options.python)  # _capi lays out for the running Python
    for problem in problems:
        print("check_header:", problem)
    counts = (f"{len(header['functions'])} functions, {len(header['enums'])} enums, "
              f"{len(header['structs'])} structs, {len(header['defines'])} constants")
    if problems:
        print(f"check_header: {len(problems)} differences from {options.header} ({counts})")
        return 1
    print(f"check_header: {options.only or 'rust and python'} bindings match {options.header} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
