#!/usr/bin/env bash
# Creates (or reuses) the Python environment that the golden tests use to cross-check peftkit against
# the real libraries (torch, transformers, peft, tokenizers, safetensors, onnx, onnxruntime,
# tensorboard). It is a test tool: peftkit itself never runs Python.
#
#   bash tools/python/setup.sh          -> .venv/ at the repository root (prints its python's path)
#
# Packages come from the local package index that pip is configured with on these machines (pip
# config list); the default index is unreachable, so it is passed as --index-url to avoid retries.
# The environment is reused while tools/python/requirements.txt is unchanged (its hash is stored).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${PEFTKIT_VENV:-$root/.venv}"
req="$root/tools/python/requirements.txt"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
py="$(command -v python3)"
rm -rf "$venv"
"$py" -m venv "$venv"
index_args=()
for url in $(pip config get global.extra-index-url 2>/dev/null || true); do
  if [ ${#index_args[@]} -eq 0 ]; then index_args+=(--index-url "$url"); else index_args+=(--extra-index-url "$url"); fi
done
links="$(pip config get global.find-links 2>/dev/null || true)"
[ -n "$links" ] && index_args+=(--find-links "$links")
"$venv/bin/pip" install --quiet --disable-pip-version-check "${index_args[@]}" -r "$req" 2>&1 |
  grep -v 'is ignored: it is neither a file nor a directory' >&2 || true
"$venv/bin/python" -c 'import torch, transformers, peft, tokenizers, safetensors, onnx, onnxruntime, tensorboard' >&2
echo "$want" > "$venv/.requirements-sha256"
echo "$venv/bin/python"
