#!/bin/sh
# `make bench`: schedkit against the tools users would pick instead (oras,
# cosign, a bare libbpf loader, bare clang). Writes bench/results.md and
# bench/results.json; takes a few minutes. Options go to bench/bench.py:
#   --iterations N (default 10), --out DIR, --skip-vm, --keep
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/bench.py "$@"
