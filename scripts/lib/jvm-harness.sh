# Sourced by scripts/kotlin-test.sh and scripts/shells-check.sh: what both
# need to run Kotlin against the host library and a live reference insurer.
# Expects `root`, `target_dir`, `kotlinc` and `deps_cp` to be set, and
# `set -euo pipefail` in the caller.
#
#   jvm_harness_start NAME   makes $scratch (removed on exit), copies the
#                            library to $scratch/lib, starts carnet-insurer on
#                            a free loopback port and sets server_url,
#                            ca_path, backend_log and backend_pid (the
#                            backend is stopped on exit);
#   jvm_harness_jar NAME CACHE PREFIX FILES...
#                            compiles FILES into one jar cached by the hash of
#                            their contents under $target_dir/CACHE, and sets
#                            `jar`.

jvm_harness_cleanup() {
    if [[ -n "${backend_pid:-}" ]] && kill -0 "$backend_pid" 2>/dev/null; then
        kill "$backend_pid" 2>/dev/null || true
        wait "$backend_pid" 2>/dev/null || true
    fi
    rm -rf "${scratch:-}"
}

jvm_harness_start() {
    local name="$1"
    scratch="$(mktemp -d)"
    backend_pid=""
    trap jvm_harness_cleanup EXIT

    # The library under the name the generated code loads, copied so that a
    # concurrent cargo build cannot swap it mid-run.
    mkdir -p "$scratch/lib"
    cp "$target_dir/debug/libcarnet_ffi.so" "$scratch/lib/libcarnet_ffi.so"

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
            echo "$name: the backend exited:" >&2
            cat "$backend_log" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [[ -z "$server_url" || -z "$ca_path" ]]; then
        echo "$name: the backend did not start within 30 s:" >&2
        cat "$backend_log" >&2
        exit 1
    fi
    echo "$name: backend at $server_url (pid $backend_pid)"
}

jvm_harness_jar() {
    local name="$1" cache="$2" prefix="$3"
    shift 3
    local cache_dir="$target_dir/$cache"
    mkdir -p "$cache_dir"
    local sources_hash
    sources_hash="$(cat "$@" | sha256sum | cut -c1-16)"
    jar="$cache_dir/$prefix-$sources_hash.jar"
    if [[ -f "$jar" ]]; then
        echo "$name: sources unchanged, reusing $(basename "$jar")"
        return
    fi
    echo "$name: compiling $# Kotlin files (kotlinc, a minute or two)"
    local started
    started=$(date +%s)
    rm -f "$cache_dir/$prefix"-*.jar
    "$kotlinc" -nowarn -jvm-target 17 -cp "$deps_cp" "$@" -d "$jar.tmp.jar"
    mv "$jar.tmp.jar" "$jar"
    echo "$name: compiled in $(($(date +%s) - started)) s"
}
