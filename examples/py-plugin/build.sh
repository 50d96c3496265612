#!/usr/bin/env bash
# Builds the Python example plugin to dist/py_example.wasm with
# componentize-py (CPython and the standard library it imports, inside the
# component), offline, against this repository's contract (wit/v0.2.0, world
# delivery-plugin). componentize-py comes from PyPI
# (`pip install componentize-py==0.25.1`); set TAYORI_COMPONENTIZE_PY to its
# path when it is not on the PATH.
#
# CPython's own C library imports wasi:filesystem, wasi:sockets and the rest
# of WASI, which the host refuses at upload. `--stub-wasi` replaces them with
# stubs that trap, but it replaces every `wasi:` import, the contract's
# wasi:http among them. So the build keeps the contract's WASI packages under
# a placeholder namespace of the same length (`wasx:`) while componentize-py
# runs, and names them back afterwards: the component then imports exactly
# the world's wasi:http, wasi:io and wasi:clocks interfaces and
# tayori:plugin/log, and nothing else.
set -euo pipefail
cd "$(dirname "$0")"
cpy="${TAYORI_COMPONENTIZE_PY:-componentize-py}"
python="${PYTHON:-python3}"

rm -rf build
mkdir -p build dist
# The contract with its WASI packages under the placeholder: build/wit.
"$python" - ../../wit/v0.2.0 build/wit <<'PY'
import pathlib, re, sys
src, dst = map(pathlib.Path, sys.argv[1:])
for wit in src.rglob("*.wit"):
    out = dst / wit.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(re.sub(r"\bwasi:", "wasx:", wit.read_text(encoding="utf-8")), encoding="utf-8")
PY

# Short Python module names for the two `types` interfaces.
names=(
    --import-interface-name 'tayori:plugin/types@0.2.0=types'
    --import-interface-name 'wasx:http/types@0.2.12=http_types'
)
# 1. The contract as Python modules (build/bindings/wit_world), for your
#    editor and type checker; componentize makes its own copy.
"$cpy" --quiet -d build/wit -w delivery-plugin "${names[@]}" bindings build/bindings
# 2. src/app.py and what it imports, snapshotted into one component.
"$cpy" --quiet -d build/wit -w delivery-plugin "${names[@]}" \
    componentize app -p src --stub-wasi -o build/py_example.wasx.wasm
# 3. The contract's interfaces by their own names again. The placeholder has
#    the same length, so the binary's layout is unchanged.
"$python" - build/py_example.wasx.wasm dist/py_example.wasm <<'PY'
import sys
src, dst = sys.argv[1:]
data = open(src, "rb").read()
if data.count(b"wasx:") == 0:
    sys.exit("build.sh: no wasx: names in the component")
open(dst, "wb").write(data.replace(b"wasx:", b"wasi:"))
PY
ls -l dist/py_example.wasm
