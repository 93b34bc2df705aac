// Byte formats at the boundary between the platform keystores and the core
// (bindings/src/foreign.rs): the core wants the device public key as SEC1
// uncompressed (65 bytes, 0x04 || X || Y) and signatures as ASN.1 DER, which
// is what Android's SHA256withECDSA and iOS's ecdsaSignatureMessageX962SHA256
// produce. Android gives public keys as X.509 SubjectPublicKeyInfo; iOS's
// SecKeyCopyExternalRepresentation already gives the 65 bytes.
package org.carnet.shell

object KeyFormats {
    /** DER prefix of a P-256 SubjectPublicKeyInfo holding an uncompressed point. */
    private val P256_SPKI_PREFIX = byteArrayOf(
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86.toByte(), 0x48, 0xce.toByte(), 0x3d, 0x02, 0x01,
        0x06, 0x08, 0x2a, 0x86.toByte(), 0x48, 0xce.toByte(), 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    )

    /** The SEC1 point of a P-256 public key in X.509 form (`PublicKey.getEncoded()`). */
    fun sec1FromSpki(spki: ByteArray): ByteArray {
        require(spki.size == P256_SPKI_PREFIX.size + 65) { "not a P-256 public key (${spki.size} bytes)" }
        require(spki.copyOfRange(0, P256_SPKI_PREFIX.size).contentEquals(P256_SPKI_PREFIX)) { "not a P-256 public key" }
        val point = spki.copyOfRange(P256_SPKI_PREFIX.size, spki.size)
        require(point[0] == 0x04.toByte()) { "not an uncompressed point" }
        return point
    }

    /** Whether [signature] looks like a DER ECDSA signature (SEQUENCE of two INTEGERs), not raw r||s. */
    fun isDerSignature(signature: ByteArray): Boolean {
        if (signature.size < 8 || signature[0] != 0x30.toByte()) return false
        if ((signature[1].toInt() and 0xff) != signature.size - 2) return false
        var at = 2
        repeat(2) {
            if (at + 2 > signature.size || signature[at] != 0x02.toByte()) return false
            val length = signature[at + 1].toInt() and 0xff
            if (length == 0 || length > 33) return false
            at += 2 + length
        }
        return at == signature.size
    }

    /**
     * The vault key wrapped by a platform AES-GCM key: a version byte, the
     * 12-byte IV, then ciphertext and tag. The version lets a later app
     * change the scheme and still read old vaults.
     */
    const val WRAP_VERSION: Byte = 1
    const val IV_BYTES = 12

    fun packWrapped(iv: ByteArray, sealed: ByteArray): ByteArray {
        require(iv.size == IV_BYTES) { "IV must be $IV_BYTES bytes" }
        return byteArrayOf(WRAP_VERSION) + iv + sealed
    }

    /** (iv, sealed), or null when [wrapped] is not in this format. */
    fun unpackWrapped(wrapped: ByteArray): Pair<ByteArray, ByteArray>? {
        if (wrapped.size < 1 + IV_BYTES + 16 || wrapped[0] != WRAP_VERSION) return null
        return wrapped.copyOfRange(1, 1 + IV_BYTES) to wrapped.copyOfRange(1 + IV_BYTES, wrapped.size)
    }
}
