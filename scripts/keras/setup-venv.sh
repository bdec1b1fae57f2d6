#!/usr/bin/env bash
# Creates .cache/keras-venv with tensorflow-cpu 2.15.1 (Keras 2.15: the last Keras that ships
# preprocessing.text.Tokenizer), used only to regenerate test/fixtures/keras-tokenizer.json.
# The tests themselves never need Python. Idempotent: an existing venv that imports the Tokenizer is reused.
# Prints the venv's python on stdout, so callers can do: py="$(bash scripts/keras/setup-venv.sh)".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../setup/lib.sh"

TF_VERSION="${PDM_TF_WHEEL_VERSION:-2.15.1}"
venv="$cache/keras-venv"
py="$venv/bin/python"
probe() { "$py" -c 'from tensorflow.keras.preprocessing.text import Tokenizer' >/dev/null 2>&1; }

if [ -x "$py" ] && probe; then say "keras: $venv imports the Tokenizer (cached)"; echo "$py"; exit 0; fi

need python3 "install Python 3.11 (the pinned tensorflow-cpu wheel is cp311)"
python3 -m venv --help >/dev/null 2>&1 || die "python3 venv module not found: apt-get install python3-venv"
say "keras: creating $venv"
rm -rf "$venv"
python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install python3-venv?)"

# Reuse the wheel scripts/setup/tensorflow.sh already downloaded (~200 MB) instead of fetching it twice.
wheel="$(ls "$cache"/tensorflow/tensorflow_cpu-"$TF_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [ -n "$wheel" ]; then
  say "keras: installing tensorflow-cpu $TF_VERSION from the cached wheel $(basename "$wheel") (its dependencies from PyPI)"
  target="$wheel"
else
  say "keras: installing tensorflow-cpu==$TF_VERSION from PyPI (~200 MB)"
  target="tensorflow-cpu==$TF_VERSION"
fi
"$py" -m pip install --quiet --disable-pip-version-check "$target" \
  || die "pip could not install tensorflow-cpu $TF_VERSION into $venv (is PyPI reachable? is python3 version 3.9-3.11?)"
probe || die "tensorflow installed into $venv but 'from tensorflow.keras.preprocessing.text import Tokenizer' fails"
say "keras: ready ($venv)"
echo "$py"
