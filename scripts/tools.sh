#!/usr/bin/env bash
# Installs, idempotently, what the Kotlin binding tests need:
#   - a Java runtime and JNA (Debian packages default-jre-headless, libjna-java);
#   - the Kotlin compiler (npm package kotlin-compiler 2.4.x) under .tools/kotlin
#     (gitignored). Its lib/ also holds kotlin-stdlib and kotlinx-coroutines-core-jvm,
#     which the generated bindings need (Debian's coroutines do not work with them).
# Prints what it does; does nothing when everything is present.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kotlin_dir="$root/.tools/kotlin"
kotlinc="$kotlin_dir/node_modules/kotlin-compiler/bin/kotlinc"
jna_jar=/usr/share/java/jna.jar

missing=()
if ! command -v java >/dev/null 2>&1; then
    missing+=(default-jre-headless)
fi
if [[ ! -f "$jna_jar" ]]; then
    missing+=(libjna-java)
fi
# ZXing for the Kotlin QR test; zbarimg for the third-party scanner test.
[[ -f /usr/share/java/javase.jar ]] || missing+=(libzxing-core-java libzxing-javase-java)
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)

if ((${#missing[@]} > 0)); then
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        sudo="sudo"
    fi
    echo "tools: installing ${missing[*]} (apt-get)"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
else
    echo "tools: java and JNA present ($(command -v java), $jna_jar)"
fi

if [[ ! -x "$kotlinc" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "tools: npm is needed to install the Kotlin compiler (apt-get install npm)" >&2
        exit 1
    fi
    echo "tools: installing kotlin-compiler@2.4 into $kotlin_dir (npm)"
    mkdir -p "$kotlin_dir"
    npm install --no-audit --no-fund --prefix "$kotlin_dir" kotlin-compiler@2.4
else
    echo "tools: kotlinc present ($kotlinc)"
fi

for jar in kotlin-stdlib.jar kotlinx-coroutines-core-jvm.jar; do
    if [[ ! -f "$kotlin_dir/node_modules/kotlin-compiler/lib/$jar" ]]; then
        echo "tools: $jar is missing from the kotlin-compiler package" >&2
        exit 1
    fi
done
