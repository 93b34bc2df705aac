#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings of carnet-ffi in library mode, or
# checks that the committed ones match what the current library produces.
#
#   scripts/bindings.sh generate   rewrite android/carnet/src/main/kotlin and ios/Sources/CarnetFFI
#   scripts/bindings.sh check      fail if they differ from a fresh generation (CI)
#
# Both build carnet-ffi and carnet-bindgen (debug) first. The generated
# directories hold generated files only: never edit them by hand.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

kotlin_out="android/carnet/src/main/kotlin"
swift_out="ios/Sources/CarnetFFI"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

usage() {
    echo "usage: $0 generate|check" >&2
    exit 2
}

# generate_into DIR: fresh Kotlin into DIR/kotlin, Swift into DIR/swift.
generate_into() {
    local out="$1"
    echo "bindings: building carnet-ffi and uniffi-bindgen (debug)"
    # Separately: built together, cargo would unify features and link the
    # library with uniffi's CLI.
    cargo build --quiet -p carnet-ffi
    cargo build --quiet -p carnet-bindgen
    # Library mode reads the metadata from the built library; the generated
    # Kotlin loads the library by the name of this file.
    local lib_dir
    lib_dir="$(mktemp -d)"
    cp "$target_dir/debug/libcarnet_ffi.so" "$lib_dir/libcarnet_ffi.so"
    local bindgen="$target_dir/debug/uniffi-bindgen"
    # --no-format: the output must not depend on whether ktlint/swiftformat
    # happen to be installed, or the drift check would flap.
    # --metadata-no-deps: only workspace crates export UniFFI items.
    "$bindgen" generate --library "$lib_dir/libcarnet_ffi.so" --crate carnet_ffi \
        --language kotlin --out-dir "$out/kotlin" --no-format --metadata-no-deps
    "$bindgen" generate --library "$lib_dir/libcarnet_ffi.so" --crate carnet_ffi \
        --language swift --out-dir "$out/swift" --no-format --metadata-no-deps
    rm -rf "$lib_dir"
}

[[ $# -eq 1 ]] || usage
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

case "$1" in
generate)
    generate_into "$scratch"
    rm -rf "$kotlin_out" "$swift_out"
    mkdir -p "$kotlin_out" "$swift_out"
    cp -R "$scratch/kotlin/." "$kotlin_out/"
    cp -R "$scratch/swift/." "$swift_out/"
    echo "bindings: wrote $kotlin_out:"
    (cd "$kotlin_out" && find . -type f | sort | sed 's|^\./|  |')
    echo "bindings: wrote $swift_out:"
    (cd "$swift_out" && find . -type f | sort | sed 's|^\./|  |')
    ;;
check)
    generate_into "$scratch"
    status=0
    for pair in "kotlin:$kotlin_out" "swift:$swift_out"; do
        fresh="$scratch/${pair%%:*}"
        committed="${pair#*:}"
        if [[ ! -d "$committed" ]]; then
            echo "bindings: $committed is missing" >&2
            status=1
        elif ! diff -r "$committed" "$fresh" >"$scratch/${pair%%:*}.diff"; then
            echo "bindings: $committed differs from what the current carnet-ffi generates:" >&2
            head -n 40 "$scratch/${pair%%:*}.diff" >&2
            status=1
        fi
    done
    if [[ $status -ne 0 ]]; then
        echo "bindings: DRIFT. Run 'bash scripts/bindings.sh generate' and commit the result" >&2
        echo "          (the generated code and the library must come from the same source)." >&2
        exit 1
    fi
    echo "bindings: $kotlin_out and $swift_out match the library"
    ;;
*)
    usage
    ;;
esac
