#!/usr/bin/env bash
# A short cargo-fuzz run of the credential parser's targets (core/fuzz):
# each target for FUZZ_SECONDS (default 20) of libFuzzer on a nightly
# toolchain. Any crash (a panic, an accepted forgery) fails the run and
# leaves the input in core/fuzz/artifacts/<target>/.
#
# Installs cargo-fuzz (pinned) from crates.io when missing. The nightly
# toolchain cannot come from the registries this project may use, so where
# none is installed the run says so and is skipped (not reported as passed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${FUZZ_SECONDS:-20}"
cargo_fuzz_version="0.13.1"

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz-short: SKIPPED: no nightly toolchain on this machine (cargo fuzz needs one)"
    exit 0
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    echo "fuzz-short: installing cargo-fuzz $cargo_fuzz_version"
    cargo install --quiet --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

cd "$root/core/fuzz"
# A fresh corpus each time: the run must not depend on what an earlier one
# found, and nothing here is committed.
for target in credential_verify certificate_decode; do
    corpus="$(mktemp -d)"
    log="$(mktemp)"
    echo "fuzz-short: $target for ${seconds}s"
    status=0
    cargo +nightly fuzz run --release "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$log" || true
    rm -rf "$corpus"
    if [[ "$status" != 0 ]]; then
        tail -n 40 "$log"
        rm -f "$log"
        echo "fuzz-short: $target FAILED (input kept in core/fuzz/artifacts/$target/)"
        exit 1
    fi
    rm -f "$log"
done
echo "fuzz-short: passed"
