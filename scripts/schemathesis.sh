#!/usr/bin/env bash
# Fuzzes the reference insurer against its OpenAPI description with
# schemathesis 4.x, over HTTPS, as an anonymous client, as a logged-in
# member, as the demo pharmacy and as the demo provider.
#
# Usage: scripts/schemathesis.sh
#
# Starts the built backend (target/debug/carnet-insurer, or $CARNET_INSURER_BIN)
# on 127.0.0.1 with a free port and a fresh data directory, trusts the CA it
# makes, registers + confirms + logs in a member with curl to get a bearer
# token, reads the demo pharmacy's and provider's API keys from the data
# directory, runs schemathesis against docs/api/openapi.yaml (member
# endpoints with the member's token, /v1/pharmacy/* with the pharmacy key,
# /v1/provider/* with the provider key), and stops the backend. Exits non-zero when schemathesis finds a failure, or when the
# backend logs a panic.
#
# Environment:
#   CARNET_INSURER_BIN           backend binary (default target/debug/carnet-insurer)
#   SCHEMATHESIS_MAX_EXAMPLES    examples per operation and phase (default 50)
#   SCHEMATHESIS_SEED            seed, for a reproducible run (default: random)
#   SCHEMATHESIS_REPORT_DIR      keep a JUnit report there (default: none)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${CARNET_INSURER_BIN:-$root/target/debug/carnet-insurer}"
spec="$root/docs/api/openapi.yaml"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-50}"

if [[ ! -x "$bin" ]]; then
    echo "schemathesis.sh: no backend binary at $bin (cargo build -p carnet-insurer)" >&2
    exit 2
fi
for tool in schemathesis curl python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "schemathesis.sh: $tool is not installed (schemathesis: pip install 'schemathesis>=4,<5')" >&2
        exit 2
    fi
done

work="$(mktemp -d)"
log="$work/insurer.log"
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" --data-dir "$work/data" --bind 127.0.0.1:0 >"$log" 2>&1 &
pid=$!

# Wait until it listens (it prints the URL once it accepts connections).
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$log" && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "schemathesis.sh: the backend exited:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$log" | head -n 1)"
ca="$(sed -n 's/^ca certificate: //p' "$log" | head -n 1)"
if [[ -z "$url" || ! -f "$ca" ]]; then
    echo "schemathesis.sh: the backend did not start in time:" >&2
    cat "$log" >&2
    exit 1
fi
echo "backend: $url (CA $ca)"

api() { # METHOD PATH [JSON] [TOKEN]: prints the body, fails on a non-2xx
    local args=(--silent --show-error --fail-with-body --cacert "$ca" -X "$1" "$url$2")
    [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' --data "$3")
    [[ -n "${4:-}" ]] && args+=(-H "Authorization: Bearer $4")
    curl "${args[@]}"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# A member, logged in: its token lets schemathesis past the bearer check.
user="fuzz.member"
password="Fuzzing2024"
api POST /v1/registrations "{\"affiliate_number\":\"424242/01\",\"card_number\":\"6034 9300 0042 4242\",\"birth_date\":\"1980-01-31\",\"username\":\"$user\",\"password\":\"$password\",\"email\":\"$user@example.org\"}" >/dev/null
code=""
for _ in $(seq 1 50); do
    code="$(sed -n "s/.*confirmation code for '$user': \([0-9]\{6\}\).*/\1/p" "$log" | head -n 1)"
    [[ -n "$code" ]] && break
    sleep 0.1
done
if [[ -z "$code" ]]; then
    echo "schemathesis.sh: no confirmation code in the backend log" >&2
    exit 1
fi
api POST /v1/registrations/confirm "{\"username\":\"$user\",\"code\":\"$code\"}" >/dev/null
login() { api POST /v1/sessions "{\"username\":\"$user\",\"password\":\"$password\"}" | json_field access_token; }
token="$(login)"
# Enrol one device, so that listing and revoking have something to see.
key_json="$(python3 - <<'EOF' 2>/dev/null || true
import json
try:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives import serialization
except ImportError:
    raise SystemExit(1)
key = ec.generate_private_key(ec.SECP256R1())
print(json.dumps({"pem": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()}))
EOF
)"
if [[ -n "$key_json" ]]; then
    challenge="$(api POST /v1/devices/challenge "" "$token" | json_field challenge)"
    enrol="$(KEY_JSON="$key_json" CHALLENGE="$challenge" python3 - <<'EOF'
import base64, json, os
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = serialization.load_pem_private_key(json.loads(os.environ["KEY_JSON"])["pem"].encode(), None)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
public = b64(key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
challenge = os.environ["CHALLENGE"]
signature = key.sign(f"carnet-enrol-v1\n{challenge}\n{public}".encode(), ec.ECDSA(hashes.SHA256()))
print(json.dumps({"name": "fuzzing phone", "public_key": public, "challenge": challenge, "signature": b64(signature)}))
EOF
)"
    api POST /v1/devices "$enrol" "$token" >/dev/null
    echo "enrolled a device for $user"
fi

common=(
    --url "$url"
    --tls-verify "$ca"
    # Every check but positive_data_acceptance: schema-valid requests can be
    # refused for reasons a schema cannot say (a birth date in the future, a
    # wrong confirmation code, a challenge never issued, a taken username).
    --checks all
    --exclude-checks positive_data_acceptance
    --max-examples "$max_examples"
    # One worker: on CPython 3.11, Hypothesis describing schemathesis's
    # filters from two threads at once randomly fails with "AST constructor
    # recursion depth mismatch" (the interpreter's ast module is not
    # thread-safe there), a runtime error of the tool, not of the API.
    --workers 1
    --request-timeout 20
    --suppress-health-check too_slow,filter_too_much
    --no-shrink
)
if [[ -n "${SCHEMATHESIS_SEED:-}" ]]; then
    common+=(--seed "$SCHEMATHESIS_SEED")
fi
report() {
    if [[ -n "${SCHEMATHESIS_REPORT_DIR:-}" ]]; then
        mkdir -p "$SCHEMATHESIS_REPORT_DIR"
        echo --report junit --report-junit-path "$SCHEMATHESIS_REPORT_DIR/schemathesis-$1.xml"
    fi
}

# The partners' keys, as the backend wrote them on first start.
pharmacy_key="$(tr -d '[:space:]' <"$work/data/pharmacy-key.txt")"
provider_key="$(tr -d '[:space:]' <"$work/data/provider-key.txt")"

status=0
# Everything but logout and the partners' endpoints, with the member's
# token (logout would end it).
echo "== every member operation but logout"
# shellcheck disable=SC2046
schemathesis run "$spec" "${common[@]}" \
    -H "Authorization: Bearer $token" \
    --exclude-path /v1/sessions/current \
    --exclude-path-regex '^/v1/(pharmacy|provider)/' \
    $(report main) || status=$?

# The pharmacy's endpoints, with its key.
echo "== pharmacy"
# shellcheck disable=SC2046
schemathesis run "$spec" "${common[@]}" \
    -H "Authorization: Bearer $pharmacy_key" \
    --include-path-regex '^/v1/pharmacy/' \
    $(report pharmacy) || status=$?

# The provider's endpoint, with its key.
echo "== provider"
# shellcheck disable=SC2046
schemathesis run "$spec" "${common[@]}" \
    -H "Authorization: Bearer $provider_key" \
    --include-path-regex '^/v1/provider/' \
    $(report provider) || status=$?

# Logout, with a token of its own.
echo "== logout"
logout_token="$(login)"
# shellcheck disable=SC2046
schemathesis run "$spec" "${common[@]}" \
    -H "Authorization: Bearer $logout_token" \
    --include-path /v1/sessions/current \
    $(report logout) || status=$?

if grep -q 'panicked' "$log"; then
    echo "schemathesis.sh: the backend panicked:" >&2
    grep -A5 'panicked' "$log" >&2
    status=1
fi
if [[ "$status" -ne 0 ]]; then
    echo "schemathesis.sh: FAILED (exit $status)" >&2
else
    echo "schemathesis.sh: passed"
fi
exit "$status"
