// The core's KeyStore callback on the Android Keystore: an AES-256-GCM key
// made inside the keystore (StrongBox when the phone has one), never
// exportable, usable only while the phone is unlocked, wraps the vault's
// data key. Format: KeyFormats.packWrapped (version, IV, ciphertext+tag),
// the same bytes the JVM tests use.
package org.carnet.app.keys

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.security.keystore.UserNotAuthenticatedException
import java.security.GeneralSecurityException
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.carnet.core.KeyStore
import org.carnet.core.KeyStoreException
import org.carnet.shell.KeyFormats

class AndroidKeyStoreVault(private val context: Context) : KeyStore {
    private val keyStore = java.security.KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    override fun wrapKey(key: ByteArray): ByteArray = guarded {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // The keystore picks the IV (callers may not choose one for GCM).
        cipher.init(Cipher.ENCRYPT_MODE, wrappingKey(create = true) ?: throw KeyStoreException.Failed("no key"))
        KeyFormats.packWrapped(cipher.iv, cipher.doFinal(key))
    }

    override fun unwrapKey(wrapped: ByteArray): ByteArray = guarded {
        val (iv, sealed) = KeyFormats.unpackWrapped(wrapped) ?: throw KeyStoreException.Failed("unknown wrap format")
        // No key any more (app data restored elsewhere, keystore reset): gone for good.
        val key = wrappingKey(create = false) ?: throw KeyStoreException.KeyInvalidated()
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, iv))
        cipher.doFinal(sealed)
    }

    private fun wrappingKey(create: Boolean): SecretKey? {
        (keyStore.getKey(ALIAS, null) as? SecretKey)?.let { return it }
        if (!create) return null
        return generate(strongBox = hasStrongBox(context))
    }

    private fun generate(strongBox: Boolean): SecretKey {
        val spec = KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setRandomizedEncryptionRequired(true)
            .apply {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                    // Like iOS's WhenUnlockedThisDeviceOnly: no vault while the phone is locked.
                    setUnlockedDeviceRequired(true)
                    setIsStrongBoxBacked(strongBox)
                }
            }
            .build()
        return try {
            KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE).run {
                init(spec)
                generateKey()
            }
        } catch (e: StrongBoxUnavailableException) {
            generate(strongBox = false)
        }
    }

    /** Maps the platform's failures to the core's: locked (retry) vs invalidated (gone) vs failed. */
    private inline fun guarded(block: () -> ByteArray): ByteArray = try {
        block()
    } catch (e: KeyStoreException) {
        throw e
    } catch (e: UserNotAuthenticatedException) {
        throw KeyStoreException.Locked()
    } catch (e: KeyPermanentlyInvalidatedException) {
        throw KeyStoreException.KeyInvalidated()
    } catch (e: AEADBadTagException) {
        throw KeyStoreException.KeyInvalidated()
    } catch (e: GeneralSecurityException) {
        if (isLockedFailure(e)) throw KeyStoreException.Locked()
        throw KeyStoreException.Failed(e.javaClass.simpleName)
    }

    companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val ALIAS = "org.carnet.vault-wrap"
        private const val TRANSFORMATION = "AES/GCM/NoPadding"

        fun hasStrongBox(context: Context): Boolean =
            Build.VERSION.SDK_INT >= Build.VERSION_CODES.P &&
                context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

        /** A keystore refusal because the phone is locked (setUnlockedDeviceRequired), API 33+ tells it apart. */
        fun isLockedFailure(e: Throwable): Boolean {
            var cause: Throwable? = e
            while (cause != null) {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU && cause is android.security.KeyStoreException) {
                    return cause.numericErrorCode == android.security.KeyStoreException.ERROR_USER_AUTHENTICATION_REQUIRED ||
                        cause.numericErrorCode == android.security.KeyStoreException.ERROR_KEYSTORE_UNINITIALIZED
                }
                cause = cause.cause
            }
            return false
        }
    }
}
