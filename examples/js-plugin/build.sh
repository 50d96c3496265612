#!/usr/bin/env bash
# Builds the JavaScript example plugin to dist/js_example.wasm:
# npm ci (the registry only, exact versions from package-lock.json), then
# componentize-js against this repository's contract, offline.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p dist
npm run --silent build
ls -l dist/js_example.wasm
