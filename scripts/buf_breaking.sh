#!/usr/bin/env bash
# buf breaking: compare the working tree's contracts with those on the main branch.
# The googleapis protos are not committed, so the copy of main gets the same build/protodeps.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --verify --quiet main >/dev/null || ! git cat-file -e main:protos 2>/dev/null; then
  echo "buf breaking: main has no protos yet, nothing to compare"
  exit 0
fi
against=build/against
rm -rf "$against" && mkdir -p "$against/build"
git archive main protos buf.yaml | tar -x -C "$against"
cp -r build/protodeps "$against/build/protodeps"
node_modules/.bin/buf breaking --against "$against"
echo "buf breaking: no breaking changes against main"
