#!/usr/bin/env bash
# Downloads the four MNIST files into DIR (default: data/mnist in the latent source tree,
# one of the directories data::MNIST looks in) and checks their MD5 sums (torchvision's).
# Files already present with the right sum are kept; a download goes to a temporary name
# and is renamed only once its sum is right. Mirrors, in order: the PyTorch S3 copy, then
# Yann LeCun's page.
#   scripts/download_mnist.sh [DIR]
#   scripts/download_mnist.sh --verify-only DIR   # check what DIR holds, download nothing
# --verify-only checks the files that are present (at least one must be) and fails on a
# wrong sum; ../shared/data/mnist, which holds the test split only, passes.
# Never commit the files: data/ is for local copies.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mirrors=(
  "https://ossci-datasets.s3.amazonaws.com/mnist/"
  "http://yann.lecun.com/exdb/mnist/"
)
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
declare -A md5=(
  [train-images-idx3-ubyte.gz]=f68b3c2dcbeaaa9fbdd348bbdeb94873
  [train-labels-idx1-ubyte.gz]=d53e105ee54ea40749a09fcbcd1e9432
  [t10k-images-idx3-ubyte.gz]=9fb629c4189551a2d022fa330f9573f3
  [t10k-labels-idx1-ubyte.gz]=ec29112dd5afa0611ce80d1b7f02629c
)

usage() {
  echo "usage: $0 [DIR]            download MNIST into DIR (default $root/data/mnist)" >&2
  echo "       $0 --verify-only DIR  check the MD5 sums of the MNIST files in DIR" >&2
  exit 2
}

verify_only=0
case "${1:-}" in
  -h|--help) usage ;;
  --verify-only) verify_only=1; shift; [ $# -eq 1 ] || usage ;;
  -*) usage ;;
esac
[ $# -le 1 ] || usage
dir=${1:-$root/data/mnist}

# True when $1 exists and its MD5 sum is $2.
sum_ok() {
  [ -f "$1" ] && [ "$(md5sum "$1" | cut -d' ' -f1)" = "$2" ]
}

if [ "$verify_only" = 1 ]; then
  [ -d "$dir" ] || { echo "error: $dir is not a directory" >&2; exit 1; }
  found=0 bad=0
  for f in "${files[@]}"; do
    if [ ! -e "$dir/$f" ]; then
      echo "absent  $dir/$f"
      continue
    fi
    found=$((found + 1))
    if sum_ok "$dir/$f" "${md5[$f]}"; then
      echo "ok      $dir/$f"
    else
      echo "BAD     $dir/$f (MD5 $(md5sum "$dir/$f" | cut -d' ' -f1), expected ${md5[$f]})"
      bad=$((bad + 1))
    fi
  done
  [ "$found" -gt 0 ] || { echo "error: no MNIST file in $dir" >&2; exit 1; }
  [ "$bad" -eq 0 ] || { echo "error: $bad file(s) with a wrong MD5 sum in $dir" >&2; exit 1; }
  echo "$found file(s) verified in $dir"
  exit 0
fi

if command -v curl >/dev/null; then
  fetch() { curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"; }
elif command -v wget >/dev/null; then
  fetch() { wget -q --tries=2 --timeout=20 -O "$2" "$1"; }
else
  echo "error: neither curl nor wget is installed (apt-get install curl)" >&2
  exit 1
fi

mkdir -p "$dir"
tmp=""
cleanup() { [ -z "$tmp" ] || rm -f "$tmp"; }
trap cleanup EXIT

for f in "${files[@]}"; do
  if sum_ok "$dir/$f" "${md5[$f]}"; then
    echo "present $dir/$f"
    continue
  fi
  [ ! -e "$dir/$f" ] || echo "replacing $dir/$f (wrong MD5 sum)"
  tmp=$(mktemp "$dir/.$f.XXXXXX")
  done_ok=0
  for m in "${mirrors[@]}"; do
    echo "fetching ${m}${f}"
    if fetch "${m}${f}" "$tmp"; then
      if sum_ok "$tmp" "${md5[$f]}"; then
        chmod 0644 "$tmp"
        mv -f "$tmp" "$dir/$f"
        done_ok=1
        break
      fi
      echo "  wrong MD5 sum from $m ($(md5sum "$tmp" | cut -d' ' -f1), expected ${md5[$f]})" >&2
    else
      echo "  download from $m failed" >&2
    fi
  done
  rm -f "$tmp"
  tmp=""
  if [ "$done_ok" != 1 ]; then
    echo "error: could not download $f from any mirror (offline? ../shared/data/mnist has the test split)" >&2
    exit 1
  fi
done
echo "MNIST is in $dir: use data::MNIST(data::Split::Train, \"$dir\") or set LATENT_DATA=$(dirname "$dir")"
