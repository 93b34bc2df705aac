#!/usr/bin/env python3
"""Verify a Carnet QR code with third-party tools only, as an integrator would.

    python3 scripts/verify_qr.py --png qr.png --jwks jwks.json [--purpose identify]
                                 [--expect-text qr.txt] [--now UNIX_SECONDS]

Nothing from Carnet is used: the PNG is scanned with zxing-cpp (PyPI
`zxing-cpp`) and, when it is installed, with `zbarimg` (Debian `zbar-tools`);
the text is Base45-decoded (PyPI `base45`); both COSE_Sign1 signatures are
checked with pycose (PyPI `pycose`, which brings `cryptography`) and the
claims read with cbor2 (PyPI `cbor2`), using only the insurer's JWKS. The
format is docs/formats/credential.md.

Prints one JSON object with what was found, and exits 0 when every check
passes, 1 when one fails, 2 when a tool is missing.
"""

import argparse
import base64
import json
import shutil
import struct
import subprocess
import sys
import time
import zlib

try:
    import base45
    import cbor2
    import zxingcpp
    from cryptography.hazmat.primitives.asymmetric import ec
    from pycose.headers import KID
    from pycose.keys import EC2Key
    from pycose.keys.curves import P256
    from pycose.messages import Sign1Message
except ImportError as missing:  # pragma: no cover - reported to the caller
    print(json.dumps({"error": f"missing Python package: {missing.name}",
                      "install": "pip install zxing-cpp pycose cbor2 base45"}))
    sys.exit(2)

PREFIX = "CN1:"
KCWT = 13  # COSE header parameter (RFC 9528): the member certificate
PURPOSE_CLAIM = -65539
COVERAGE_CLAIM = -65537  # [member id, device id, plan, region, valid-until days]
CERTIFICATE_LIFETIME = 90 * 86400  # iat = exp - this when the certificate omits iat
PURPOSES = {1: "identify", 2: "settle"}
LIFETIME = 60
SKEW = 30


class Refused(Exception):
    """A check failed."""


def png_to_grey(path):
    """Width, height and 8-bit grey pixels of a greyscale PNG (1 or 8 bits).

    Kept to the standard library so that the scan depends on no imaging
    package; zbarimg reads the file itself.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Refused("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if colour != 0 or depth not in (1, 8) or interlace != 0:
        raise Refused("expected a non-interlaced greyscale PNG of depth 1 or 8")
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    rows, previous, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - 1] if i else 0
            up = previous[i]
            corner = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    grey = bytearray()
    for line in rows:
        if depth == 8:
            grey += line
        else:
            for x in range(width):
                grey.append(255 if line[x // 8] & (0x80 >> (x % 8)) else 0)
    return width, height, bytes(grey)


def scan_with_zxing(path):
    width, height, grey = png_to_grey(path)
    image = memoryview(grey).cast("B", (height, width))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if len(found) != 1:
        raise Refused(f"zxing-cpp found {len(found)} QR codes")
    return found[0].text


def scan_with_zbar(path):
    done = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Refused(f"zbarimg failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.rstrip("\r\n")


def sign1(message):
    """A pycose Sign1Message from tagged or untagged bytes (Carnet omits tag 18),
    or from the decoded array itself (the certificate in the kcwt header)."""
    value = cbor2.loads(message) if isinstance(message, bytes) else message
    if isinstance(value, cbor2.CBORTag):
        if value.tag != 18:
            raise Refused(f"CBOR tag {value.tag} is not a COSE_Sign1")
        value = value.value
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise Refused("not a COSE_Sign1 array")
    # from_cose_obj is what Sign1Message.decode calls once it has read the
    # tag; it consumes the list.
    return Sign1Message.from_cose_obj(list(value), True)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_to_key(jwk):
    return EC2Key(crv=P256, x=b64url_decode(jwk["x"]), y=b64url_decode(jwk["y"]))


def cose_key_to_key(cose_key):
    """The device key from the cnf COSE_Key: x and the sign of y (compressed)."""
    if cose_key.get(1) != 2 or cose_key.get(-1) != 1:
        raise Refused("cnf is not an EC2 P-256 key")
    x, y = cose_key[-2], cose_key[-3]
    if isinstance(y, bool):
        point = bytes([3 if y else 2]) + x
        numbers = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point).public_numbers()
        y = numbers.y.to_bytes(32, "big")
    return EC2Key(crv=P256, x=x, y=y)


def verify_text(text, jwks, purpose, now):
    if not text.startswith(PREFIX):
        raise Refused("no CN1: prefix")
    outer = sign1(base45.b45decode(text[len(PREFIX):]))
    if outer.uhdr:
        raise Refused("the unprotected header is not empty")
    claims = cbor2.loads(outer.payload)
    # The certificate is the protected header's kcwt: the COSE_Sign1 array.
    certificate = sign1(outer.phdr[KCWT])
    kid = base64.urlsafe_b64encode(certificate.phdr[KID]).rstrip(b"=").decode()
    keys = {key["kid"]: key for key in jwks["keys"]}
    if kid not in keys:
        raise Refused(f"insurer key {kid} is not in the JWKS")
    certificate.key = jwk_to_key(keys[kid])
    if not certificate.verify_signature():
        raise Refused("the insurer's signature does not verify")
    certified = cbor2.loads(certificate.payload)
    outer.key = cose_key_to_key(certified[8][1])
    if not outer.verify_signature():
        raise Refused("the device's signature does not verify")
    issued, expires = claims[6], claims[4]
    if expires - issued != LIFETIME:
        raise Refused("the lifetime is not 60 s")
    if not issued - SKEW <= now < expires + SKEW:
        raise Refused(f"outside its window at {now} (iat {issued}, exp {expires})")
    if now >= certified[4]:
        raise Refused("the member certificate has expired")
    if PURPOSES.get(claims[PURPOSE_CLAIM]) != purpose:
        raise Refused(f"made to {PURPOSES.get(claims[PURPOSE_CLAIM])}, not to {purpose}")
    as_id = lambda value: value.hex() if isinstance(value, bytes) else value
    member_id, device_id, plan, region, days = certified[COVERAGE_CLAIM]
    return {
        "kid": kid,
        "member_id": as_id(member_id),
        "device_id": as_id(device_id),
        "certificate_iat": certified.get(6, certified[4] - CERTIFICATE_LIFETIME),
        "coverage": {"plan": plan, "region": region, "valid_until_days": days},
        "purpose": purpose,
        "iat": issued,
        "exp": expires,
        "nonce": claims[7].hex(),
    }


def tampered(text):
    """The same code with one Base45 character changed inside the
    certificate's signed claims."""
    i = len(PREFIX) + 40
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    swap = alphabet[(alphabet.index(text[i]) + 1) % len(alphabet)]
    return text[:i] + swap + text[i + 1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", required=True)
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--purpose", default="identify", choices=["identify", "settle"])
    parser.add_argument("--expect-text", help="a file holding the text the PNG must carry")
    parser.add_argument("--now", type=int, default=None, help="unix seconds (default: this clock)")
    args = parser.parse_args()
    now = args.now if args.now is not None else int(time.time())
    with open(args.jwks) as handle:
        jwks = json.load(handle)
    report = {"scanners": {}}
    try:
        texts = {"zxing-cpp": scan_with_zxing(args.png)}
        if shutil.which("zbarimg"):
            texts["zbarimg"] = scan_with_zbar(args.png)
        else:
            report["scanners"]["zbarimg"] = "not installed (Debian zbar-tools)"
        if len(set(texts.values())) != 1:
            raise Refused(f"the scanners disagree: {texts}")
        text = next(iter(texts.values()))
        for name in texts:
            report["scanners"][name] = "read the code"
        if args.expect_text:
            with open(args.expect_text) as handle:
                if handle.read().strip() != text:
                    raise Refused("the scanned text is not the expected one")
        report["verified"] = verify_text(text, jwks, args.purpose, now)
        # The checks are not vacuous: one changed character must fail.
        try:
            verify_text(tampered(text), jwks, args.purpose, now)
        except Exception:  # noqa: BLE001 - any failure is the expected outcome
            report["tampered_copy"] = "refused"
        else:
            raise Refused("a tampered copy verified")
    except Refused as refused:
        report["error"] = str(refused)
        print(json.dumps(report, indent=2))
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
