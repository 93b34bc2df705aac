#!/usr/bin/env bash
# Builds libcarnet_ffi.so for the Android ABIs into
# carnet/src/main/jniLibs/<abi>/ with cargo-ndk, 16 KB page-aligned as
# Google Play requires for Android 15+ devices.
#
# Needs, on a workstation:
#   - the Android NDK r28 or newer (ANDROID_NDK_HOME, or ndk/<version> under
#     ANDROID_HOME / ANDROID_SDK_ROOT; `sdkmanager "ndk;28.1.13356709"`);
#   - cargo-ndk:       cargo install cargo-ndk --version 3.5.4 --locked
#   - the Rust targets: rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#
# Usage: android/build-rust.sh [--debug] [ABI...]   (default: release, arm64-v8a armeabi-v7a x86_64)
# Then: cd android && ./gradlew :app:assembleDebug
#
# The generated Kotlin must come from the same carnet-ffi source: run
# scripts/bindings.sh check (or generate) after changing bindings/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/carnet/src/main/jniLibs"

profile=release
if [[ "${1:-}" == "--debug" ]]; then
    profile=dev
    shift
fi
abis=("$@")
if ((${#abis[@]} == 0)); then
    abis=(arm64-v8a armeabi-v7a x86_64)
fi

if ! command -v cargo-ndk >/dev/null 2>&1; then
    echo "build-rust: cargo-ndk is missing: cargo install cargo-ndk --version 3.5.4 --locked" >&2
    exit 1
fi
if [[ -z "${ANDROID_NDK_HOME:-}" ]]; then
    sdk="${ANDROID_HOME:-${ANDROID_SDK_ROOT:-$HOME/Android/Sdk}}"
    ndk="$(ls -d "$sdk"/ndk/2[89].* "$sdk"/ndk/[3-9][0-9].* 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$ndk" ]]; then
        echo "build-rust: no NDK r28+ found; set ANDROID_NDK_HOME" >&2
        exit 1
    fi
    export ANDROID_NDK_HOME="$ndk"
fi
echo "build-rust: NDK $ANDROID_NDK_HOME, profile $profile, ABIs ${abis[*]}"

# 16 KB pages: NDK r28 aligns by default; the flag keeps it so with older
# NDKs and makes the requirement explicit. The core needs no
# rustls-platform-verifier (it trusts the insurer's CA and WebPKI roots it
# carries, docs/adr/0003-tls.md), so there is no JNI_OnLoad to wire.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"

targets=()
for abi in "${abis[@]}"; do
    targets+=(-t "$abi")
done
cd "$root"
cargo ndk "${targets[@]}" --platform 26 -o "$out" \
    build -p carnet-ffi --locked --profile "$profile"

# Check the alignment of every LOAD segment (2**14 = 16 KB).
readelf="$(ls "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/*/bin/llvm-readelf 2>/dev/null | head -n 1 || true)"
if [[ -n "$readelf" ]]; then
    for abi in "${abis[@]}"; do
        lib="$out/$abi/libcarnet_ffi.so"
        if "$readelf" -lW "$lib" | awk '/LOAD/ { if ($NF != "0x4000" && $NF != "0x10000") bad = 1 } END { exit bad }'; then
            echo "build-rust: $abi: LOAD segments 16 KB-aligned"
        else
            echo "build-rust: $abi: a LOAD segment is not 16 KB-aligned:" >&2
            "$readelf" -lW "$lib" | grep LOAD >&2
            exit 1
        fi
    done
fi
ls -l "$out"/*/libcarnet_ffi.so
