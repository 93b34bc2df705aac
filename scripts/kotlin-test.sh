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

scratch="$(mktemp -d)"
backend_pid=""
cleanup() {
    if [[ -n "$backend_pid" ]] && kill -0 "$backend_pid" 2>/dev/null; then
        kill "$backend_pid" 2>/dev/null || true
        wait "$backend_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# The library under the name the generated code loads, copied so that a
# concurrent cargo build cannot swap it mid-run.
mkdir -p "$scratch/lib"
cp "$target_dir/debug/libcarnet_ffi.so" "$scratch/lib/libcarnet_ffi.so"

# --- backend -----------------------------------------------------------------
backend_log="$scratch/backend.log"
"$target_dir/debug/carnet-insurer" --data-dir "$scratch/insurer" --bind 127.0.0.1:0 \
    >"$backend_log" 2>&1 &
backend_pid=$!
server_url=""
ca_path=""
for _ in $(seq 1 300); do
    server_url="$(sed -n 's/^listening on \(https:[^ ]*\).*/\1/p' "$backend_log" | head -n 1)"
    ca_path="$(sed -n 's/^ca certificate: \(.*\)$/\1/p' "$backend_log" | head -n 1)"
    if [[ -n "$server_url" && -n "$ca_path" ]]; then
        break
    fi
    if ! kill -0 "$backend_pid" 2>/dev/null; then
        echo "kotlin-test: the backend exited:" >&2
        cat "$backend_log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$server_url" || -z "$ca_path" ]]; then
    echo "kotlin-test: the backend did not start within 30 s:" >&2
    cat "$backend_log" >&2
    exit 1
fi
echo "kotlin-test: backend at $server_url (pid $backend_pid)"

# --- compile -----------------------------------------------------------------
generated=(android/carnet/src/main/kotlin/org/carnet/core/*.kt)
tests=(bindings/tests/kotlin/*.kt)
cache_dir="$target_dir/kotlin-test"
mkdir -p "$cache_dir"
sources_hash="$(cat "${generated[@]}" "${tests[@]}" | sha256sum | cut -c1-16)"
jar="$cache_dir/carnet-kotlin-test-$sources_hash.jar"
if [[ -f "$jar" ]]; then
    echo "kotlin-test: sources unchanged, reusing $(basename "$jar")"
else
    echo "kotlin-test: compiling ${#generated[@]} generated + ${#tests[@]} test files (kotlinc, about a minute)"
    started=$(date +%s)
    rm -f "$cache_dir"/carnet-kotlin-test-*.jar
    "$kotlinc" -nowarn -jvm-target 17 -cp "$deps_cp" "${generated[@]}" "${tests[@]}" -d "$jar.tmp.jar"
    mv "$jar.tmp.jar" "$jar"
    echo "kotlin-test: compiled in $(($(date +%s) - started)) s"
fi

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
