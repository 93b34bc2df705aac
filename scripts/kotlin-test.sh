#!/usr/bin/env bash
# Runs the Kotlin binding tests (bindings/tests/kotlin) on a plain JVM
# against the reference insurer backend:
#   1. installs kotlinc/JNA if missing (scripts/tools.sh);
#   2. builds carnet-ffi and carnet-insurer (no-ops when up to date) and
#      checks that the committed bindings match the library;
#   3. starts carnet-insurer on a free loopback port, logging to a file;
#   4. compiles the generated Kotlin and the tests into one jar (cached by
#      the hash of its sources) and runs it;
#   5. stops the backend. Exits non-zero when any test fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

bash scripts/tools.sh

kotlin_lib="$root/.tools/kotlin/node_modules/kotlin-compiler/lib"
kotlinc="$root/.tools/kotlin/node_modules/kotlin-compiler/bin/kotlinc"
jna_jar=/usr/share/java/jna.jar
# ZXing (Debian libzxing-core-java, libzxing-javase-java) reads the rendered QR.
deps_cp="$jna_jar:$kotlin_lib/kotlinx-coroutines-core-jvm.jar:/usr/share/java/core.jar:/usr/share/java/javase.jar"

echo "kotlin-test: building carnet-ffi and carnet-insurer (debug)"
# Separately, so that each gets its own features (see scripts/bindings.sh).
cargo build --quiet -p carnet-ffi
cargo build --quiet -p carnet-insurer
bash scripts/bindings.sh check

# shellcheck source=lib/jvm-harness.sh
source scripts/lib/jvm-harness.sh
jvm_harness_start kotlin-test

generated=(android/carnet/src/main/kotlin/org/carnet/core/*.kt)
tests=(bindings/tests/kotlin-harness/*.kt bindings/tests/kotlin/*.kt)
jvm_harness_jar kotlin-test kotlin-test carnet-kotlin-test "${generated[@]}" "${tests[@]}"

# --- run ---------------------------------------------------------------------
echo "kotlin-test: running"
started=$(date +%s)
set +e
CARNET_SERVER_URL="$server_url" \
CARNET_CA_PEM="$ca_path" \
CARNET_BACKEND_LOG="$backend_log" \
CARNET_ADMIN_KEY_FILE="$scratch/insurer/admin-key.txt" \
    java -Djna.library.path="$scratch/lib" \
    -cp "$jar:$kotlin_lib/kotlin-stdlib.jar:$deps_cp" \
    org.carnet.tests.MainKt
status=$?
set -e
echo "kotlin-test: ran in $(($(date +%s) - started)) s"
if [[ $status -ne 0 ]]; then
    echo "kotlin-test: FAILED (exit status $status); backend log tail:" >&2
    tail -n 30 "$backend_log" >&2
fi
exit $status
