// App-side implementations of the foreign traits, as a shell would write
// them, but with JVM crypto instead of the Android Keystore.
package org.carnet.tests

import org.carnet.testing.*

import java.math.BigInteger
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.carnet.core.DeviceSigner
import org.carnet.core.DeviceSignerException
import org.carnet.core.KeyStore
import org.carnet.core.KeyStoreException

/**
 * Wraps the vault's data key with AES-256-GCM under a key held in memory
 * (an Android app would hold it in the Android Keystore). Output: a 12-byte
 * IV followed by the ciphertext and tag.
 */
class AesGcmKeyStore : KeyStore {
    private val key: SecretKey = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
    private val random = SecureRandom()
    val wrapCalls = AtomicInteger()
    val unwrapCalls = AtomicInteger()

    override fun wrapKey(key: ByteArray): ByteArray {
        wrapCalls.incrementAndGet()
        val iv = ByteArray(12).also(random::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, this.key, GCMParameterSpec(128, iv))
        return iv + cipher.doFinal(key)
    }

    override fun unwrapKey(wrapped: ByteArray): ByteArray {
        unwrapCalls.incrementAndGet()
        if (wrapped.size < 12 + 16) throw KeyStoreException.Failed("wrapped key too short")
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped, 0, 12))
        try {
            return cipher.doFinal(wrapped, 12, wrapped.size - 12)
        } catch (e: AEADBadTagException) {
            // Not our key any more: what an invalidated Keystore key looks like.
            throw KeyStoreException.KeyInvalidated()
        }
    }
}

/** How a [FailingKeyStore] fails. */
enum class KeyStoreFailure { LOCKED, INVALIDATED, CRASH }

/** A keystore whose unwrap fails the way a platform keystore can. */
class FailingKeyStore(private val delegate: KeyStore, private val failure: KeyStoreFailure) : KeyStore {
    override fun wrapKey(key: ByteArray): ByteArray = delegate.wrapKey(key)

    override fun unwrapKey(wrapped: ByteArray): ByteArray = when (failure) {
        KeyStoreFailure.LOCKED -> throw KeyStoreException.Locked()
        KeyStoreFailure.INVALIDATED -> throw KeyStoreException.KeyInvalidated()
        // Not a declared error: UniFFI turns it into KeyStoreError::Failed.
        KeyStoreFailure.CRASH -> throw IllegalStateException("keystore service died")
    }
}

/**
 * An ECDSA P-256 device key made with java.security (an Android app would
 * make it in the Android Keystore). Records which threads call it.
 */
class EcDeviceSigner(private val lockedSigning: Boolean = false) : DeviceSigner {
    private val keyPair = KeyPairGenerator.getInstance("EC")
        .apply { initialize(ECGenParameterSpec("secp256r1")) }
        .generateKeyPair()
    val signCalls = AtomicInteger()
    val callingThreads: MutableList<String> = Collections.synchronizedList(mutableListOf())

    /** SEC1 uncompressed: 0x04, then X and Y as 32 bytes each. */
    override fun publicKey(): ByteArray {
        callingThreads += Thread.currentThread().name
        val point = (keyPair.public as ECPublicKey).w
        return byteArrayOf(0x04) + fixed32(point.affineX) + fixed32(point.affineY)
    }

    /** SHA256withECDSA gives the ASN.1 DER signature the core expects. */
    override fun sign(message: ByteArray): ByteArray {
        callingThreads += Thread.currentThread().name
        signCalls.incrementAndGet()
        if (lockedSigning) throw DeviceSignerException.Locked()
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(keyPair.private)
            update(message)
            sign()
        }
    }

    private fun fixed32(n: BigInteger): ByteArray {
        val bytes = n.toByteArray() // big-endian, may carry a sign byte or be short
        return when {
            bytes.size == 32 -> bytes
            bytes.size > 32 -> bytes.copyOfRange(bytes.size - 32, bytes.size)
            else -> ByteArray(32 - bytes.size) + bytes
        }
    }
}
