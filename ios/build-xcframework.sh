#!/usr/bin/env bash
# Builds ios/CarnetCore.xcframework: carnet-ffi as ONE static library for
# all the Rust code (uniffi-rs#2802), for devices (aarch64-apple-ios) and the
# simulator (aarch64-apple-ios-sim + x86_64-apple-ios, joined with lipo),
# with the generated C header and module map as its Headers.
#
# Needs macOS with Xcode 15+ and:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#
# Usage: ios/build-xcframework.sh [--debug]
# Then:  open ios/Package.swift in Xcode, or build the app: cd ios/App && xcodegen && open Carnet.xcodeproj
#
# The Swift in Sources/CarnetFFI must come from the same carnet-ffi source:
# run scripts/bindings.sh check (or generate) after changing bindings/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
profile=release
profile_dir=release
if [[ "${1:-}" == "--debug" ]]; then
    profile=dev
    profile_dir=debug
fi

export IPHONEOS_DEPLOYMENT_TARGET=16.0
cd "$root"
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    echo "build-xcframework: cargo build --target $target ($profile)"
    cargo build -p carnet-ffi --locked --lib --profile "$profile" --target "$target"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/headers" "$work/sim"
cp "$here/Sources/CarnetFFI/carnet_ffiFFI.h" "$work/headers/"
# An XCFramework's Headers carry the module map under its canonical name.
cp "$here/Sources/CarnetFFI/carnet_ffiFFI.modulemap" "$work/headers/module.modulemap"

lipo -create \
    "$target_dir/aarch64-apple-ios-sim/$profile_dir/libcarnet_ffi.a" \
    "$target_dir/x86_64-apple-ios/$profile_dir/libcarnet_ffi.a" \
    -output "$work/sim/libcarnet_ffi.a"

rm -rf "$here/CarnetCore.xcframework"
xcodebuild -create-xcframework \
    -library "$target_dir/aarch64-apple-ios/$profile_dir/libcarnet_ffi.a" -headers "$work/headers" \
    -library "$work/sim/libcarnet_ffi.a" -headers "$work/headers" \
    -output "$here/CarnetCore.xcframework"
echo "build-xcframework: wrote $here/CarnetCore.xcframework"
