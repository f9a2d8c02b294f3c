#!/usr/bin/env python3
"""Generate the static model tables of crates/api-model from botocore's service models.

Reads botocore/data/{iot,iot-data,iot-jobs-data}/<api-version>/service-2.json (or .json.gz) and
paginators-1.json from the installed botocore (pinned in requirements.txt beside this file) and
writes one Rust file per service plus generated/mod.rs (the `Operation` enum) under
crates/api-model/src/generated/, then runs rustfmt on them.

Usage (from the repository root):

    pip install -r tools/codegen/requirements.txt
    python3 tools/codegen/gen_api_model.py            # or --data-dir DIR to use another copy

The output is deterministic: shapes and operations are sorted by name, and no documentation
strings are copied.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "crates" / "api-model" / "src" / "generated"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"

# (botocore service name, Rust module, `Service` variant, prefix for clashing operation names)
SERVICES = [
    ("iot", "iot", "Iot", ""),
    ("iot-data", "iot_data", "IotData", "Data"),
    ("iot-jobs-data", "iot_jobs_data", "IotJobsData", "Jobs"),
]

SCALAR_TYPES = {"string", "integer", "long", "float", "double", "boolean", "blob", "timestamp"}
LOCATIONS = {
    None: "Body",
    "uri": "Uri",
    "querystring": "Querystring",
    "header": "Header",
    "headers": "Headers",
    "statusCode": "StatusCode",
}
TIMESTAMP_FORMATS = {
    "iso8601": "Iso8601",
    "rfc822": "Rfc822",
    "unixTimestamp": "UnixTimestamp",
}


class ModelError(Exception):
    pass


def rust_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("\\u{%x}" % ord(ch))
    out.append('"')
    return "".join(out)


def opt(value, render=str) -> str:
    return "None" if value is None else f"Some({render(value)})"


def rust_float(value) -> str:
    text = repr(float(value))
    return text if ("." in text or "e" in text) else text + ".0"


def str_slice(items) -> str:
    return "&[" + ", ".join(rust_str(i) for i in items) + "]"


def load_json(path: Path):
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        with gzip.open(gz, "rt", encoding="utf-8") as f:
            return json.load(f)
    return None


def find_model_dir(data_dir: Path, service: str) -> Path:
    versions = sorted(p for p in (data_dir / service).iterdir() if p.is_dir())
    if not versions:
        raise ModelError(f"no API version directory for {service} under {data_dir}")
    return versions[-1]


def as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class ServiceGen:
    def __init__(self, botocore_name, module, variant, prefix, model, paginators):
        self.botocore_name = botocore_name
        self.module = module
        self.variant = variant
        self.prefix = prefix
        self.model = model
        self.paginators = paginators.get("pagination", {}) if paginators else {}
        self.shape_names = sorted(model["shapes"])
        self.shape_index = {name: i for i, name in enumerate(self.shape_names)}
        self.patterns: list[str] = []
        self.pattern_index: dict[str, int] = {}
        self.uses: set[str] = {"Shape", "ShapeId"}
        self.ops = sorted(model["operations"].values(), key=lambda o: o["name"])

    def shape_ref(self, name: str) -> str:
        if name not in self.shape_index:
            raise ModelError(f"{self.botocore_name}: unknown shape {name}")
        return f"ShapeId({self.shape_index[name]})"

    def pattern_ref(self, pattern: str) -> str:
        if pattern not in self.pattern_index:
            self.pattern_index[pattern] = len(self.patterns)
            self.patterns.append(pattern)
        self.uses.add("PatternId")
        return f"PatternId({self.pattern_index[pattern]})"

    def member(self, struct_name: str, struct: dict, name: str, m: dict) -> str:
        location = m.get("location")
        if location not in LOCATIONS:
            raise ModelError(f"{struct_name}.{name}: unknown location {location!r}")
        self.uses.add("Member")
        text = f"Member::new({rust_str(name)}, {self.shape_ref(m['shape'])})"
        if location is not None:
            self.uses.add("Location")
            loc = f"Location::{LOCATIONS[location]}"
            text += f".bind({loc}, {opt(m.get('locationName'), rust_str)})"
        elif "locationName" in m:
            self.uses.add("Location")
            text += f".bind(Location::Body, Some({rust_str(m['locationName'])}))"
        if name in struct.get("required", []):
            text += ".mark_required()"
        if struct.get("payload") == name:
            text += ".mark_payload()"
        if m.get("jsonvalue"):
            text += ".mark_json_value()"
        if m.get("idempotencyToken"):
            text += ".mark_idempotency_token()"
        if "timestampFormat" in m:
            self.uses.add("TimestampFormat")
            fmt = TIMESTAMP_FORMATS[m["timestampFormat"]]
            text += f".with_timestamp_format(TimestampFormat::{fmt})"
        return text

    def shape(self, name: str) -> str:
        s = self.model["shapes"][name]
        t = s["type"]
        n = rust_str(name)
        if t == "structure":
            members = s.get("members", {})
            for req in s.get("required", []):
                if req not in members:
                    raise ModelError(f"{name}: required member {req} is not a member")
            if "payload" in s and s["payload"] not in members:
                raise ModelError(f"{name}: payload {s['payload']} is not a member")
            body = ", ".join(self.member(name, s, mn, m) for mn, m in members.items())
            status = s.get("error", {}).get("httpStatusCode") if s.get("exception") else None
            if status is not None:
                return f"Shape::error({n}, {status}, &[{body}])"
            return f"Shape::structure({n}, &[{body}])"
        if t == "list":
            return (
                f"Shape::list({n}, {self.shape_ref(s['member']['shape'])}, "
                f"{opt(s.get('min'))}, {opt(s.get('max'))})"
            )
        if t == "map":
            return (
                f"Shape::map({n}, {self.shape_ref(s['key']['shape'])}, "
                f"{self.shape_ref(s['value']['shape'])}, {opt(s.get('min'))}, {opt(s.get('max'))})"
            )
        if t == "string":
            pattern = opt(s.get("pattern"), self.pattern_ref)
            return (
                f"Shape::string({n}, {opt(s.get('min'))}, {opt(s.get('max'))}, {pattern}, "
                f"{str_slice(s.get('enum', []))})"
            )
        if t in ("integer", "long"):
            for key in ("min", "max"):
                if key in s and not isinstance(s[key], int):
                    raise ModelError(f"{name}: non-integer {key} on an integer shape")
            return f"Shape::{t}({n}, {opt(s.get('min'))}, {opt(s.get('max'))})"
        if t in ("float", "double"):
            return (
                f"Shape::{t}({n}, {opt(s.get('min'), rust_float)}, "
                f"{opt(s.get('max'), rust_float)})"
            )
        if t == "boolean":
            return f"Shape::boolean({n})"
        if t == "blob":
            return f"Shape::blob({n}, {opt(s.get('min'))}, {opt(s.get('max'))})"
        if t == "timestamp":
            fmt = s.get("timestampFormat")
            if fmt is not None:
                self.uses.add("TimestampFormat")
            return f"Shape::timestamp({n}, {opt(fmt, lambda f: 'TimestampFormat::' + TIMESTAMP_FORMATS[f])})"
        raise ModelError(f"{self.botocore_name}: shape {name} has unsupported type {t}")

    def paginator(self, op_name: str) -> str:
        p = self.paginators.get(op_name)
        if p is None:
            return "None"
        self.uses.add("Paginator")
        return (
            "Some(Paginator { "
            f"input_token: {str_slice(as_list(p.get('input_token')))}, "
            f"output_token: {str_slice(as_list(p.get('output_token')))}, "
            f"limit_key: {opt(p.get('limit_key'), rust_str)}, "
            f"result_keys: {str_slice(as_list(p.get('result_key')))}, "
            f"non_aggregate_keys: {str_slice(as_list(p.get('non_aggregate_keys')))} "
            "})"
        )

    def operation(self, op: dict) -> str:
        http = op["http"]
        method = http["method"].capitalize()
        if method not in ("Get", "Put", "Post", "Delete", "Patch", "Head"):
            raise ModelError(f"{op['name']}: unsupported method {http['method']}")
        input_ref = opt(op.get("input", {}).get("shape"), self.shape_ref)
        output_ref = opt(op.get("output", {}).get("shape"), self.shape_ref)
        errors = [e["shape"] for e in op.get("errors", [])]
        for e in errors:
            self.shape_ref(e)
        return (
            "OperationDef { "
            f"name: {rust_str(op['name'])}, "
            f"service: Service::{self.variant}, "
            f"method: HttpMethod::{method}, "
            f"request_uri: {rust_str(http['requestUri'])}, "
            f"success_code: {http.get('responseCode', 200)}, "
            f"input: {input_ref}, "
            f"output: {output_ref}, "
            f"errors: {str_slice(errors)}, "
            f"paginator: {self.paginator(op['name'])} "
            "}"
        )

    def render(self, header: str) -> str:
        for name in self.paginators:
            if name not in self.model["operations"]:
                raise ModelError(f"{self.botocore_name}: paginator for unknown operation {name}")
        shapes = [self.shape(name) for name in self.shape_names]
        ops = [self.operation(op) for op in self.ops]
        self.uses.update({"OperationDef", "HttpMethod", "Service"})
        self.uses.add("Pattern")
        imports = {
            "operation": ["HttpMethod", "OperationDef", "Paginator"],
            "pattern": ["Pattern"],
            "service": ["Service"],
            "shape": ["Location", "Member", "PatternId", "Shape", "ShapeId", "TimestampFormat"],
        }
        lines = [header]
        meta = self.model["metadata"]
        lines.append(
            f"//! Tables of the `{self.botocore_name}` service model, API version "
            f"{meta['apiVersion']}."
        )
        lines.append("")
        for module, names in imports.items():
            used = [n for n in names if n in self.uses]
            if len(used) == 1:
                lines.append(f"use crate::{module}::{used[0]};")
            elif used:
                lines.append(f"use crate::{module}::{{{', '.join(used)}}};")
        lines.append("")
        lines.append(f"pub(crate) const API_VERSION: &str = {rust_str(meta['apiVersion'])};")
        lines.append("")
        lines.append(f"pub(crate) static PATTERNS: [Pattern; {len(self.patterns)}] = [")
        lines.extend(f"Pattern::new({rust_str(p)})," for p in self.patterns)
        lines.append("];")
        lines.append("")
        lines.append(f"pub(crate) static SHAPES: [Shape; {len(shapes)}] = [")
        lines.extend(s + "," for s in shapes)
        lines.append("];")
        lines.append("")
        lines.append(f"pub(crate) static OPERATIONS: [OperationDef; {len(ops)}] = [")
        lines.extend(o + "," for o in ops)
        lines.append("];")
        return "\n".join(lines) + "\n"


def render_mod(header: str, gens: list[ServiceGen]) -> str:
    all_names: dict[str, int] = {}
    for g in gens:
        for op in g.ops:
            all_names[op["name"]] = all_names.get(op["name"], 0) + 1
    variants = []
    offsets = []
    for g in gens:
        offsets.append((g, len(variants)))
        for op in g.ops:
            clash = all_names[op["name"]] > 1 and g.prefix
            variants.append((g.prefix if clash else "") + op["name"])
    if len(set(variants)) != len(variants):
        raise ModelError("operation variant names still clash after prefixing")
    lines = [header]
    lines.append("//! The `Operation` enum over all three services and its index into their tables.")
    lines.append("")
    for g in gens:
        lines.append(f"pub(crate) mod {g.module};")
    lines.append("")
    lines.append("use crate::operation::OperationDef;")
    lines.append("use crate::service::Service;")
    lines.append("")
    lines.append(
        "/// Every operation of the `iot`, `iot-data` and `iot-jobs-data` services. Variants are "
        "the AWS\n/// operation names; where an `iot-data` or `iot-jobs-data` operation shares its "
        "name with an `iot`\n/// one, its variant is prefixed with `Data` or `Jobs` (`name()` still "
        "returns the AWS name)."
    )
    lines.append("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]")
    lines.append("pub enum Operation {")
    lines.extend(f"{v}," for v in variants)
    lines.append("}")
    lines.append("")
    lines.append("impl Operation {")
    lines.append("/// All operations: `iot`'s, then `iot-data`'s, then `iot-jobs-data`'s, each sorted by name.")
    lines.append(f"pub const ALL: [Operation; {len(variants)}] = [")
    lines.extend(f"Operation::{v}," for v in variants)
    lines.append("];")
    lines.append("}")
    lines.append("")
    lines.append(
        "/// The service's operation table and the index in `Operation::ALL` of its first entry."
    )
    lines.append(
        "pub(crate) fn operation_table(service: Service) -> (&'static [OperationDef], usize) {"
    )
    lines.append("match service {")
    for g, off in offsets:
        lines.append(f"Service::{g.variant} => (&{g.module}::OPERATIONS, {off}),")
    lines.append("}")
    lines.append("}")
    lines.append("")
    lines.append("pub(crate) fn operation_def(op: Operation) -> &'static OperationDef {")
    lines.append("let index = op as usize;")
    for i, (g, off) in enumerate(offsets):
        end = offsets[i + 1][1] if i + 1 < len(offsets) else len(variants)
        cond = f"if index < {end} " if i + 1 < len(offsets) else ""
        prefix = "" if i == 0 else "else "
        at = f"index - {off}" if off else "index"
        lines.append(f"{prefix}{cond}{{ &{g.module}::OPERATIONS[{at}] }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def pinned_version() -> str | None:
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("botocore=="):
            return line.split("==", 1)[1]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="botocore's data directory")
    parser.add_argument("--no-fmt", action="store_true", help="skip rustfmt")
    args = parser.parse_args()

    import botocore  # noqa: PLC0415 - only needed when generating

    version = botocore.__version__
    pinned = pinned_version()
    if pinned != version:
        print(
            f"warning: botocore {version} is installed but {pinned} is pinned in {REQUIREMENTS}",
            file=sys.stderr,
        )
    data_dir = args.data_dir or Path(botocore.__file__).resolve().parent / "data"
    header = f"// generated by tools/codegen/gen_api_model.py from botocore {version}; do not edit"

    gens = []
    for botocore_name, module, variant, prefix in SERVICES:
        model_dir = find_model_dir(data_dir, botocore_name)
        model = load_json(model_dir / "service-2.json")
        if model is None:
            raise ModelError(f"no service-2.json in {model_dir}")
        if model["metadata"].get("protocol") != "rest-json":
            raise ModelError(f"{botocore_name} is not rest-json")
        paginators = load_json(model_dir / "paginators-1.json")
        gens.append(ServiceGen(botocore_name, module, variant, prefix, model, paginators))

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for g in gens:
        path = OUT_DIR / f"{g.module}.rs"
        path.write_text(g.render(header), encoding="utf-8")
        written.append(path)
    mod_path = OUT_DIR / "mod.rs"
    mod_path.write_text(render_mod(header, gens), encoding="utf-8")
    written.append(mod_path)

    if not args.no_fmt:
        subprocess.run(
            ["rustfmt", "--edition", "2024", *map(str, written)], check=True, cwd=ROOT
        )
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
