#!/usr/bin/env bash
# Provisions the TensorFlow C library for @tensorflow/tfjs-node and builds its native addon from source.
#
# Why: tfjs-node's own install script downloads libtensorflow from a CDN that some networks (CI here)
# cannot reach. The tensorflow-cpu wheel on PyPI ships the same C API (in libtensorflow_cc.so.2, next to
# libtensorflow_framework.so.2) and its headers, so we place those as the package's deps/ and compile the
# addon with node-gyp against the local Node headers. Where the ordinary download works (a Docker build),
# plain `npm ci` still does the normal thing and this script finds the backend already working.
# Idempotent: a working native backend is detected in about a second and nothing is downloaded again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TF_VERSION="${PDM_TF_WHEEL_VERSION:-2.15.1}"
TF_WHEEL="tensorflow_cpu-${TF_VERSION}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
# sha256 of the pinned wheel as published on PyPI; a different version must bring its own checksum.
TF_SHA256="${PDM_TF_WHEEL_SHA256:-54660c074d7241a503e81edfd9f5ef5af88f64051b72e2945f26318c790f2d26}"

pkg="$root/node_modules/@tensorflow/tfjs-node"
[ -d "$pkg" ] || die "node_modules/@tensorflow/tfjs-node is missing: run 'npm ci --ignore-scripts' first (scripts/setup.sh does)"

probe() { (cd "$root" && node -e "
  const tf = require('@tensorflow/tfjs-node');
  if (tf.getBackend() !== 'tensorflow') process.exit(3);
  tf.tidy(() => tf.tensor1d([1, 2]).add(1).dataSync());" >/dev/null 2>&1); }

if probe; then say "tensorflow: native backend loads (cached)"; exit 0; fi

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "building libtensorflow from the PyPI wheel is only scripted for Linux x86_64; use 'npm ci' with internet access (tfjs-node downloads it)"

mkdir -p "$cache/tensorflow"
wheel="$cache/tensorflow/$TF_WHEEL"
if [ ! -f "$wheel" ]; then
  need python3 "install Python 3 (apt-get install python3 python3-pip) to fetch the tensorflow-cpu wheel from PyPI"
  python3 -m pip --version >/dev/null 2>&1 || die "pip not found: apt-get install python3-pip (used only to download the tensorflow-cpu wheel)"
  say "tensorflow: downloading tensorflow-cpu==$TF_VERSION wheel from PyPI (~200 MB, once)"
  python3 -m pip download --quiet "tensorflow-cpu==$TF_VERSION" --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux_2_17_x86_64 -d "$cache/tensorflow.partial" \
    || die "pip could not download tensorflow-cpu==$TF_VERSION (no route to PyPI?): place $TF_WHEEL in $cache/tensorflow/ by hand"
  mv "$cache/tensorflow.partial/$TF_WHEEL" "$wheel" && rm -rf "$cache/tensorflow.partial"
fi
echo "$TF_SHA256  $wheel" | sha256sum -c --quiet - >/dev/null 2>&1 \
  || { rm -f "$wheel"; die "checksum mismatch for $TF_WHEEL (deleted; run again to re-download)"; }

say "tensorflow: placing libtensorflow $TF_VERSION (C API from the wheel) into tfjs-node/deps"
need unzip "apt-get install unzip"
stage="$cache/tensorflow/stage-$TF_VERSION"
if [ ! -f "$stage/.complete" ]; then
  rm -rf "$stage" && mkdir -p "$stage"
  unzip -q -o "$wheel" 'tensorflow/libtensorflow_cc.so.2' 'tensorflow/libtensorflow_framework.so.2' \
    'tensorflow/include/tensorflow/*' 'tensorflow/include/tsl/*' -d "$stage"
  touch "$stage/.complete"
fi
deps="$pkg/deps"
rm -rf "$deps" && mkdir -p "$deps/lib" "$deps/include"
cp "$stage/tensorflow/libtensorflow_cc.so.2" "$stage/tensorflow/libtensorflow_framework.so.2" "$deps/lib/"
cp -r "$stage/tensorflow/include/tensorflow" "$stage/tensorflow/include/tsl" "$deps/include/"
# The addon links with -ltensorflow -ltensorflow_framework; the C API lives in libtensorflow_cc here.
ln -sf libtensorflow_cc.so.2 "$deps/lib/libtensorflow.so"
ln -sf libtensorflow_framework.so.2 "$deps/lib/libtensorflow_framework.so"
# tfjs-node's install.js treats this file as "library present" and will not try the CDN again.
ln -sf libtensorflow_cc.so.2 "$deps/lib/libtensorflow.so.2.9.1"

need g++ "apt-get install g++ make (needed to compile the tfjs-node addon)"
need make "apt-get install make"
nodedir=""
for d in "$(dirname "$(dirname "$(command -v node)")")" /usr /usr/local; do
  if [ -f "$d/include/node/common.gypi" ] && [ -f "$d/include/node/node_api.h" ]; then nodedir="$d"; break; fi
done
[ -n "$nodedir" ] || die "Node.js headers not found (include/node/node_api.h): install the nodejs headers (Debian: libnode-dev) or a Node.js tarball"
modpath="$(cd "$pkg" && node -e "console.log(require('@mapbox/node-pre-gyp').find(require('path').resolve('package.json')))")"
napi="$(basename "$(dirname "$modpath")" | sed 's/napi-v//')"
say "tensorflow: compiling the tfjs-node addon with node-gyp (headers from $nodedir/include/node, N-API $napi)"
gyp="$root/node_modules/.bin/node-gyp"
[ -x "$gyp" ] || die "node-gyp missing from devDependencies: run 'npm ci --ignore-scripts'"
(cd "$pkg" && "$gyp" rebuild --nodedir="$nodedir" --module_name=tfjs_binding --napi_build_version="$napi" \
    --module_path="$(dirname "$modpath")" >"$cache/tensorflow/node-gyp.log" 2>&1) \
  || die "node-gyp failed; see $cache/tensorflow/node-gyp.log (last line: $(tail -1 "$cache/tensorflow/node-gyp.log"))"
# node-gyp's after-build step copies the addon to --module_path; make sure it landed there.
[ -f "$modpath" ] || { mkdir -p "$(dirname "$modpath")" && cp "$pkg/build/Release/tfjs_binding.node" "$modpath"; }
probe || die "the addon was built but the native backend does not load; run: node -e \"require('@tensorflow/tfjs-node')\""
say "tensorflow: native backend ready ($modpath)"
