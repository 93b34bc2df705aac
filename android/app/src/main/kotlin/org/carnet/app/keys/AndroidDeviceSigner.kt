// The core's DeviceSigner callback on the Android Keystore: an ECDSA P-256
// key made inside the keystore (StrongBox when present), never exportable.
// The core wants the public key as SEC1 (65 bytes) and DER signatures
// (bindings/src/foreign.rs): SHA256withECDSA gives DER; the X.509 public key
// is cut to SEC1 by KeyFormats, tested on the JVM.
//
// The key is not bound to user authentication: the QR is already gated by
// the core's credential PIN or BiometricPrompt, and a code is signed every
// 45 s while shown, which a per-use authentication would break.
package org.carnet.app.keys

import android.content.Context
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.security.keystore.UserNotAuthenticatedException
import java.security.GeneralSecurityException
import java.security.KeyPairGenerator
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import org.carnet.core.DeviceSigner
import org.carnet.core.DeviceSignerException
import org.carnet.shell.KeyFormats

class AndroidDeviceSigner(private val context: Context) : DeviceSigner {
    private val keyStore = java.security.KeyStore.getInstance(AndroidKeyStoreVault.ANDROID_KEYSTORE).apply { load(null) }

    override fun publicKey(): ByteArray = guarded {
        ensureKey()
        val certificate = keyStore.getCertificate(ALIAS) ?: throw DeviceSignerException.KeyLost()
        KeyFormats.sec1FromSpki(certificate.publicKey.encoded)
    }

    override fun sign(message: ByteArray): ByteArray = guarded {
        // Signing with a key that is gone would make a new, uncertified one: refuse instead.
        val key = keyStore.getKey(ALIAS, null) as? PrivateKey ?: throw DeviceSignerException.KeyLost()
        Signature.getInstance("SHA256withECDSA").run {
            initSign(key)
            update(message)
            sign()
        }
    }

    /** Makes the key at enrolment (the core asks for the public key first). */
    private fun ensureKey() {
        if (keyStore.containsAlias(ALIAS)) return
        generate(AndroidKeyStoreVault.hasStrongBox(context))
    }

    private fun generate(strongBox: Boolean) {
        val spec = KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .apply {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                    setUnlockedDeviceRequired(true)
                    setIsStrongBoxBacked(strongBox)
                }
            }
            .build()
        try {
            KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, AndroidKeyStoreVault.ANDROID_KEYSTORE).run {
                initialize(spec)
                generateKeyPair()
            }
        } catch (e: StrongBoxUnavailableException) {
            generate(strongBox = false)
        }
    }

    /** Forgets the key (after logout or revocation of this device). */
    fun delete() {
        if (keyStore.containsAlias(ALIAS)) keyStore.deleteEntry(ALIAS)
    }

    private inline fun guarded(block: () -> ByteArray): ByteArray = try {
        block()
    } catch (e: DeviceSignerException) {
        throw e
    } catch (e: UserNotAuthenticatedException) {
        throw DeviceSignerException.Locked()
    } catch (e: KeyPermanentlyInvalidatedException) {
        throw DeviceSignerException.KeyLost()
    } catch (e: GeneralSecurityException) {
        if (AndroidKeyStoreVault.isLockedFailure(e)) throw DeviceSignerException.Locked()
        throw DeviceSignerException.Failed(e.javaClass.simpleName)
    }

    companion object {
        const val ALIAS = "org.carnet.device-key"
    }
}
