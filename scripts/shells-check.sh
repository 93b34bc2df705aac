#!/usr/bin/env bash
# Checks the Android and iOS shells where no Android SDK and no Swift
# compiler exist (docs/adr/0008-shells.md):
#   1. the shells' platform-independent logic (android/shared-logic) compiled
#      with the generated Kotlin bindings and its tests run on the JVM,
#      against the host library and the reference insurer (started here on a
#      free loopback port, stopped at the end), as scripts/kotlin-test.sh does;
#   2. every .swift file under ios/ parsed with tree-sitter-swift
#      (scripts/swift-syntax.py);
#   3. every function, method and constructor the bindings export is used by
#      the Android shell and by the iOS shell, or listed with a reason in
#      docs/shells/unused-exports.txt;
#   4. every string key exists in English, Spanish, Chinese and Persian on
#      both platforms, with the same placeholders, and every key the shells
#      name exists.
# Prints `N passed, M failed` last (Kotlin tests plus the three checks) and
# exits non-zero when anything failed. The jar is cached by the hash of its
# sources under target/shells-check. SHELLS_CHECK_NO_BUILD=1 skips the
# cargo builds and uses the last built library. The bindings drift check is
# scripts/bindings.sh check (scripts/test-all runs it before this).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

bash scripts/tools.sh

kotlin_lib="$root/.tools/kotlin/node_modules/kotlin-compiler/lib"
kotlinc="$root/.tools/kotlin/node_modules/kotlin-compiler/bin/kotlinc"
deps_cp="/usr/share/java/jna.jar:$kotlin_lib/kotlinx-coroutines-core-jvm.jar"

if [[ "${SHELLS_CHECK_NO_BUILD:-}" == 1 ]]; then
    # For reruns while the Rust side is mid-change: the last built library
    # and backend are used as they are.
    echo "shells-check: SHELLS_CHECK_NO_BUILD=1, using the built target/debug artifacts"
else
    echo "shells-check: building carnet-ffi and carnet-insurer (debug)"
    # Separately, so that each gets its own features (see scripts/bindings.sh).
    cargo build --quiet -p carnet-ffi
    cargo build --quiet -p carnet-insurer
fi

# shellcheck source=lib/jvm-harness.sh
source scripts/lib/jvm-harness.sh
jvm_harness_start shells-check

generated=(android/carnet/src/main/kotlin/org/carnet/core/*.kt)
mapfile -t logic < <(find android/shared-logic/src/main/kotlin -name '*.kt' | sort)
mapfile -t tests < <(find bindings/tests/kotlin-harness android/shared-logic/src/test/kotlin -name '*.kt' | sort)
jvm_harness_jar shells-check shells-check shared-logic-test "${generated[@]}" "${logic[@]}" "${tests[@]}"

# --- run the Kotlin tests ----------------------------------------------------
echo "shells-check: running the shared-logic tests"
started=$(date +%s)
set +e
CARNET_SERVER_URL="$server_url" \
CARNET_CA_PEM="$ca_path" \
CARNET_BACKEND_LOG="$backend_log" \
    java -Djna.library.path="$scratch/lib" -Dcarnet.repo="$root" \
    -cp "$jar:$kotlin_lib/kotlin-stdlib.jar:$deps_cp" \
    org.carnet.shell.test.MainKt | tee "$scratch/kotlin.out"
kotlin_status=${PIPESTATUS[0]}
set -e
echo "shells-check: Kotlin tests ran in $(($(date +%s) - started)) s"
summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$scratch/kotlin.out" | tail -n 1 || true)"
passed="$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$summary")"
failed="$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p' <<<"$summary")"
passed="${passed:-0}"
failed="${failed:-0}"
skipped="$(sed -n 's/.* \([0-9]*\) skipped$/\1/p' <<<"$summary")"
if [[ -n "$skipped" && "$skipped" != 0 ]]; then
    echo "shells-check: $skipped Kotlin tests were skipped although the backend runs" >&2
    failed=$((failed + skipped))
fi
if [[ $kotlin_status -ne 0 && $failed -eq 0 ]]; then
    echo "shells-check: the Kotlin test run exited with status $kotlin_status" >&2
    failed=$((failed + 1))
    tail -n 30 "$backend_log" >&2
fi

# --- Swift syntax ------------------------------------------------------------
check() {
    local name="$1"
    shift
    if "$@"; then
        echo "ok $name"
        passed=$((passed + 1))
    else
        echo "FAILED $name"
        failed=$((failed + 1))
    fi
}
check "swift syntax (tree-sitter-swift)" python3 scripts/swift-syntax.py

# --- exports used by both shells ---------------------------------------------
export_usage() {
    python3 - "$root" <<'PY'
import os, re, sys
root = sys.argv[1]
header = open(os.path.join(root, "ios/Sources/CarnetFFI/carnet_ffiFFI.h")).read()
allow_path = os.path.join(root, "docs/shells/unused-exports.txt")
GENERATED = ("android/carnet/src/main/kotlin/", "ios/Sources/CarnetFFI/")

def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)

def sources(top, ext):
    text = []
    for directory, subdirs, names in os.walk(os.path.join(root, top)):
        rel = os.path.relpath(directory, root) + "/"
        subdirs[:] = [d for d in subdirs if d not in ("build", ".build", ".gradle", "test")]
        if any(rel.startswith(g) for g in GENERATED):
            continue
        text += [open(os.path.join(directory, n), encoding="utf-8").read() for n in names if n.endswith(ext)]
    return "\n".join(text)

kotlin = sources("android", ".kt")
swift = sources("ios", ".swift")
# Type names as the bindings spell them, by their lowercase FFI name.
types = {}
for name in re.findall(r"^(?:open class|public protocol|public struct|public enum|enum)\s+(\w+)", open(os.path.join(root, "ios/Sources/CarnetFFI/CarnetFFI.swift")).read(), re.M):
    types.setdefault(name.lower(), name)

exports = []
for kind, rest in sorted(set(re.findall(r"uniffi_carnet_ffi_fn_(constructor|method|func)_(\w+?)\s*\(", header))):
    if kind == "func":
        exports.append((rest, "func", None, rest))
    else:
        obj, member = rest.split("_", 1)
        exports.append((f"{obj}.{member}", kind, types.get(obj, obj), member))

def used(code, kind, type_name, member, lang):
    name = camel(member)
    if kind == "func":
        return re.search(rf"\b{name}\s*\(", code)
    if kind == "constructor":
        if member == "new":
            return re.search(rf"\b{type_name}\s*\(", code)
        return re.search(rf"\.{name}\s*\(", code)
    call = rf"(\.|::){name}\b\s*[\(\)\s,]" if lang == "kotlin" else rf"\.{name}\s*\("
    implemented = rf"override\s+fun\s+{name}\s*\(" if lang == "kotlin" else rf"\bfunc\s+{name}\s*\("
    return re.search(call, code) or re.search(implemented, code)

allowed = {}
for number, line in enumerate(open(allow_path, encoding="utf-8"), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    ident, _, reason = line.partition(" ")
    if not reason.strip():
        print(f"unused-exports.txt:{number}: '{ident}' has no reason")
        sys.exit(1)
    allowed[ident] = reason.strip()

problems = []
for ident, kind, type_name, member in exports:
    on_android = bool(used(kotlin, kind, type_name, member, "kotlin"))
    on_ios = bool(used(swift, kind, type_name, member, "swift"))
    if ident in allowed:
        if on_android and on_ios:
            problems.append(f"{ident}: listed as unused but both shells use it; remove it from the list")
        continue
    missing = [p for p, ok in (("android", on_android), ("ios", on_ios)) if not ok]
    if missing:
        problems.append(f"{ident} ({kind}): not used by {' and '.join(missing)}; use it or list it with a reason")
exported = {e[0] for e in exports}
problems += [f"{ident}: listed in unused-exports.txt but not exported" for ident in allowed if ident not in exported]
for p in problems:
    print("export-usage:", p)
print(f"export-usage: {len(exports)} exports, {len(allowed)} listed as unused, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY
}
check "every export used by both shells or listed" export_usage

# --- strings in four languages on both platforms -----------------------------
strings_parity() {
    python3 - "$root" <<'PY'
import os, re, sys
import xml.etree.ElementTree as ET
root = sys.argv[1]
LANGS = [("en", "values", "en.lproj"), ("es", "values-es", "es.lproj"),
         ("zh-Hans", "values-b+zh+Hans", "zh-Hans.lproj"), ("fa", "values-fa", "fa.lproj")]
problems = []

def android(values):
    path = os.path.join(root, "android/app/src/main/res", values, "strings.xml")
    out = {}
    for element in ET.parse(path).getroot().iter("string"):
        text = "".join(element.itertext())
        if re.search(r"(?<!\\)'", text):
            problems.append(f"{values}/strings.xml: {element.get('name')}: unescaped apostrophe")
        out[element.get("name")] = text
    return out

def ios(lproj):
    path = os.path.join(root, "ios/App/Resources", lproj, "Localizable.strings")
    out = {}
    text = re.sub(r"/\*.*?\*/", "", open(path, encoding="utf-8").read(), flags=re.S)
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        m = re.fullmatch(r'"([a-z0-9_]+)"\s*=\s*"((?:[^"\\]|\\.)*)";', line)
        if not m:
            problems.append(f"{lproj}/Localizable.strings: unreadable line: {line[:60]}")
            continue
        out[m.group(1)] = m.group(2)
    return out

def placeholders(text):
    return sorted(re.findall(r"%\d+\$[a-z@]+", text))

tables = {("android", v): android(v) for _, v, _ in LANGS}
tables.update({("ios", l): ios(l) for _, _, l in LANGS})
every = set().union(*tables.values())
for (platform, lang), table in tables.items():
    for key in sorted(every - set(table)):
        problems.append(f"{platform} {lang}: missing '{key}'")
for platform, index in (("android", 1), ("ios", 2)):
    english = tables[(platform, LANGS[0][index])]
    for _, *dirs in LANGS[1:]:
        table = tables[(platform, dirs[index - 1])]
        for key, text in table.items():
            if key in english and placeholders(text) != placeholders(english[key]):
                problems.append(f"{platform} {dirs[index - 1]}: '{key}' placeholders {placeholders(text)} differ from English")

# Keys the shells name must exist.
def named(top, ext, pattern):
    found = set()
    for directory, subdirs, names in os.walk(os.path.join(root, top)):
        subdirs[:] = [d for d in subdirs if d not in ("build", ".build", ".gradle")]
        for n in names:
            if n.endswith(ext):
                found |= set(re.findall(pattern, open(os.path.join(directory, n), encoding="utf-8").read()))
    return found
for key in sorted(named("android/app/src", ".kt", r"R\.string\.(\w+)") - set(tables[("android", "values")])):
    problems.append(f"android: R.string.{key} is not defined")
for key in sorted(named("ios/App", ".swift", r'\btr\("([a-z0-9_]+)"\s*[,)]') - set(tables[("ios", "en.lproj")])):
    problems.append(f"ios: tr(\"{key}\") is not defined")
for p in problems:
    print("strings:", p)
print(f"strings: {len(every)} keys x 4 languages x 2 platforms, {len(problems)} problems")
sys.exit(1 if problems else 0)
PY
}
check "strings in en, es, zh-Hans, fa on both platforms" strings_parity

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
