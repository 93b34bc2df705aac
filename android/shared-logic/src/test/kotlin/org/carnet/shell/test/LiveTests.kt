// The screen logic over the real core (the host library through the
// generated bindings) and the reference insurer started by
// scripts/shells-check.sh. Environment as in bindings/tests/kotlin/Main.kt:
// CARNET_SERVER_URL, CARNET_CA_PEM, CARNET_BACKEND_LOG.
package org.carnet.shell.test

import org.carnet.testing.*

import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.spec.GCMParameterSpec
import kotlinx.coroutines.delay
import org.carnet.core.Carnet
import org.carnet.core.CarnetConfig
import org.carnet.core.CarnetException
import org.carnet.core.DeviceSigner
import org.carnet.core.DeviceSignerException
import org.carnet.core.KeyStore
import org.carnet.core.KeyStoreException
import org.carnet.core.RegistrationField
import org.carnet.shell.AccountScreenModel
import org.carnet.shell.BackgroundSync
import org.carnet.shell.CarnetPorts
import org.carnet.shell.KeyFormats
import org.carnet.shell.QrScreenModel
import org.carnet.shell.QrScreenState
import org.carnet.shell.SignInModel
import org.carnet.shell.SignInStep
import org.carnet.shell.SyncOutcome
import org.carnet.shell.SystemClock
import org.carnet.shell.TokenScreenModel
import org.carnet.shell.UiText

private fun env(name: String): String? = System.getenv(name)?.takeIf { it.isNotBlank() }

private val live: Boolean get() = env("CARNET_SERVER_URL") != null
private val serverUrl by lazy { env("CARNET_SERVER_URL")!! }
private val caPem by lazy { File(env("CARNET_CA_PEM")!!).readText() }
private val backendLog by lazy { File(env("CARNET_BACKEND_LOG")!!) }
private val scratch: Path by lazy { Files.createTempDirectory("carnet-shell-test") }
private var counter = 0
private const val PASSWORD = "Clave2024"

private fun newDir(): Path = scratch.resolve("vault-${counter++}")

private fun config(dir: Path, url: String = serverUrl) =
    CarnetConfig(dataDir = dir.toString(), serverUrl = url, rootCaPem = caPem, usePublicRoots = false, spkiPins = listOf())

private fun uniqueUsername(): String =
    "sl" + System.currentTimeMillis().toString(36) + (counter++).toString(36) + (0 until 3).map { ('a'..'z').random() }.joinToString("")

private fun closedPort(): Int = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }

private suspend fun confirmationCode(username: String): String {
    val pattern = Regex("confirmation code for '${Regex.escape(username)}': (\\d{6})")
    repeat(100) {
        pattern.find(backendLog.readText())?.let { return it.groupValues[1] }
        delay(100)
    }
    throw TestFailure("no confirmation code for $username")
}

/**
 * The Android shell's keystore, with JVM AES-GCM instead of the Android
 * Keystore but the same byte format (KeyFormats.packWrapped).
 */
class JvmKeyStore : KeyStore {
    private val key = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
    override fun wrapKey(key: ByteArray): ByteArray {
        val iv = ByteArray(KeyFormats.IV_BYTES).also(SecureRandom()::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding").apply { init(Cipher.ENCRYPT_MODE, this@JvmKeyStore.key, GCMParameterSpec(128, iv)) }
        return KeyFormats.packWrapped(iv, cipher.doFinal(key))
    }

    override fun unwrapKey(wrapped: ByteArray): ByteArray {
        val (iv, sealed) = KeyFormats.unpackWrapped(wrapped) ?: throw KeyStoreException.Failed("unknown wrap format")
        val cipher = Cipher.getInstance("AES/GCM/NoPadding").apply { init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, iv)) }
        return try {
            cipher.doFinal(sealed)
        } catch (e: AEADBadTagException) {
            throw KeyStoreException.KeyInvalidated()
        }
    }
}

/** The Android shell's signer, with a JCA key: public key via KeyFormats.sec1FromSpki, DER signatures. */
class JvmSigner : DeviceSigner {
    private val pair = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()
    val signatures = AtomicInteger()
    override fun publicKey(): ByteArray = KeyFormats.sec1FromSpki(pair.public.encoded)
    override fun sign(message: ByteArray): ByteArray {
        signatures.incrementAndGet()
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(pair.private)
            update(message)
            sign()
        }
    }
}

private fun requireLive() {
    if (!live) throw Skipped("no backend (CARNET_SERVER_URL unset; run scripts/shells-check.sh)")
}

/** A member signed up, confirmed, logged in and enrolled through the sign-in screen logic. */
private suspend fun signedIn(carnet: Carnet): String {
    val model = SignInModel(CarnetPorts(carnet), SystemClock, "Shell test phone")
    val username = uniqueUsername()
    model.start()
    model.showRegistration()
    model.editRegistration {
        it.copy(affiliateNumber = "123456/01", cardNumber = "6034 9300 0012 3456", birthDate = "1980-02-29",
            username = username, password = PASSWORD, email = "$username@example.org")
    }
    model.register()
    model.confirmEmail(confirmationCode(username))
    model.logIn(username, PASSWORD)
    expectEquals(SignInStep.DONE, model.state.value.step, "signed in (${model.state.value.message})")
    return username
}

fun liveTests(harness: Harness) {
    harness.test("live: sign-in screens: every bad field at once, confirm, log in, enrol with the shell's key formats") {
        requireLive()
        val signer = JvmSigner()
        Carnet.openWithKeyStore(config(newDir()), JvmKeyStore(), signer).use { carnet ->
            val model = SignInModel(CarnetPorts(carnet), SystemClock, "Pixel 8")
            model.start()
            expectEquals(SignInStep.LOG_IN, model.state.value.step, "not enrolled: log in")
            model.showRegistration()
            val username = uniqueUsername()
            model.editRegistration {
                it.copy(affiliateNumber = "123456/01", cardNumber = "6034 9300", birthDate = "2999-01-01",
                    username = username, password = PASSWORD, email = "not-an-address")
            }
            model.register()
            val errors = model.state.value.fieldErrors
            expectEquals(setOf(RegistrationField.CARD_NUMBER, RegistrationField.BIRTH_DATE, RegistrationField.EMAIL), errors.keys, "fields")
            expectEquals(UiText("field_card_number_invalid"), errors[RegistrationField.CARD_NUMBER], "card message")
            expectEquals(UiText("registration_fix_fields", 3), model.state.value.message, "summary")
            model.editRegistration { it.copy(cardNumber = "6034 9300 0012 3456") }
            expectEquals(setOf(RegistrationField.BIRTH_DATE, RegistrationField.EMAIL), model.state.value.fieldErrors.keys, "card cleared")
            model.editRegistration { it.copy(birthDate = "1980-02-29", email = "$username@example.org") }
            model.register()
            expectEquals(SignInStep.CONFIRM_EMAIL, model.state.value.step, "confirm next")

            model.logIn(username, PASSWORD)
            expectEquals(SignInStep.CONFIRM_EMAIL, model.state.value.step, "not confirmed: back to the code")
            expectEquals(UiText("error_email_not_confirmed"), model.state.value.message, "said so")
            val code = confirmationCode(username)
            model.confirmEmail(if (code == "000000") "111111" else "000000")
            expectEquals(UiText("error_wrong_confirmation_code"), model.state.value.message, "wrong code")
            model.confirmEmail(code)
            expectEquals(SignInStep.LOG_IN, model.state.value.step, "log in next")
            model.logIn(username, "Wrong2024")
            expectEquals(UiText("error_wrong_credentials"), model.state.value.message, "wrong password")
            model.logIn(username, PASSWORD)
            expectEquals(SignInStep.DONE, model.state.value.step, "done: ${model.state.value.message}")
            expectEquals("Pixel 8", model.state.value.enrolment?.deviceName, "enrolled")
            expectEquals(1, signer.signatures.get(), "the shell's signer proved possession (DER, SEC1 key accepted)")

            val again = SignInModel(CarnetPorts(carnet), SystemClock, "Pixel 8")
            again.start()
            expectEquals(SignInStep.DONE, again.state.value.step, "enrolled device starts signed in")
        }
    }

    harness.test("live: QR screen over the real core: choose PIN, wrong PIN, unlock, rotate before expiry") {
        requireLive()
        val signer = JvmSigner()
        Carnet.openWithKeyStore(config(newDir()), JvmKeyStore(), signer).use { carnet ->
            signedIn(carnet)
            val time = ManualTime(System.currentTimeMillis())
            val model = QrScreenModel(CarnetPorts(carnet), time, time, biometricAvailable = true)
            model.start()
            expectEquals(QrScreenState.ChoosePin(), model.state.value, "no PIN yet")
            model.choosePin("123456", "123456")
            expectEquals(QrScreenState.ChoosePin(UiText("error_invalid_pin")), model.state.value, "trivial PIN refused by the core")
            model.choosePin("207341", "207341")
            expectEquals(QrScreenState.Locked(true), model.state.value, "locked")
            model.unlockWithPin("000001")
            expectEquals(UiText("error_wrong_pin", 4), (model.state.value as QrScreenState.Locked).message, "wrong PIN counted by the core")
            model.unlockWithPin("207341")
            val first = model.state.value as? QrScreenState.Showing ?: throw TestFailure("not showing: ${model.state.value}")
            expect(first.code.text.startsWith("CN1:")) { "a Carnet code" }
            expect(first.secondsLeft in 59..60) { "countdown ${first.secondsLeft}" }
            val signaturesBefore = signer.signatures.get()
            // The core's refresh_at is 45 s after issue: the timer asks then.
            time.advanceBy((first.code.refreshAt - first.code.issuedAt) * 1000)
            val second = model.state.value as? QrScreenState.Showing ?: throw TestFailure("not showing: ${model.state.value}")
            expect(second.code.text != first.code.text) { "a new code" }
            expectEquals(signaturesBefore + 1, signer.signatures.get(), "signed by the shell's key")
            model.stop()
            expectEquals(0, time.pending, "no timers after stop")
        }
    }

    harness.test("live: token screen online, then offline fallback, sync, background sync outcomes") {
        requireLive()
        val dir = newDir()
        val keyStore = JvmKeyStore()
        val signer = JvmSigner()
        Carnet.openWithKeyStore(config(dir), keyStore, signer).use { carnet ->
            signedIn(carnet)
            val tokens = TokenScreenModel(CarnetPorts(carnet), SystemClock)
            tokens.setPractice("consulta clínica")
            tokens.makeToken()
            val online = tokens.state.value.latest ?: throw TestFailure("no token: ${tokens.state.value.message}")
            expect(!online.offline && Regex("\\d{6}").matches(online.code)) { "an online token" }
            tokens.sync()
            expectEquals(null, tokens.state.value.message, "sync message")
            expectEquals(1, tokens.state.value.rows.size, "history")
            expectEquals(SyncOutcome.Done::class, BackgroundSync(carnet::sync).run()::class, "background sync done")
        }
        // The same vault with the insurer unreachable.
        Carnet.openWithKeyStore(config(dir, url = "https://localhost:${closedPort()}"), keyStore, signer).use { carnet ->
            val tokens = TokenScreenModel(CarnetPorts(carnet), SystemClock)
            tokens.load()
            expectEquals(1, tokens.state.value.rows.size, "history from the vault")
            tokens.makeToken()
            val offline = tokens.state.value.latest ?: throw TestFailure("no token: ${tokens.state.value.message}")
            expect(offline.offline) { "made on the phone" }
            expectEquals(UiText("token_made_offline"), tokens.state.value.message, "said so")
            tokens.sync()
            expectEquals(UiText("error_offline"), tokens.state.value.message, "sync offline")
            expectEquals(SyncOutcome.RetryLater("offline"), BackgroundSync(carnet::sync).run(), "background: retry later")
        }
    }

    harness.test("live: account screen: coverage, devices, revoke another, log out wipes") {
        requireLive()
        Carnet.openWithPassphrase(config(newDir()), "correct horse battery staple").use { phone ->
            val username = signedIn(phone)
            Carnet.openWithPassphrase(config(newDir()), "another").use { tablet ->
                tablet.login(username, PASSWORD)
                tablet.enrolDevice("Tablet")
            }
            val ports = CarnetPorts(phone)
            val model = AccountScreenModel(ports, SystemClock)
            model.load()
            val state = model.state.value
            expectEquals(username, state.account?.username, "account")
            expectEquals(2, state.devices.size, "two devices")
            val tablet = state.devices.first { it.id != state.thisDeviceId }
            model.revoke(tablet.id)
            expect(model.state.value.devices.first { it.id == tablet.id }.revokedAt != null) { "revoked" }
            expectEquals(UiText("device_revoked"), model.state.value.message, "said so")
            val location = ports.vaultLocation() ?: throw TestFailure("no vault location")
            model.logOut()
            expect(model.state.value.loggedOut) { "logged out" }
            val dir = File(location)
            expect(!dir.exists() || dir.list().isNullOrEmpty()) { "vault wiped" }
            expectEquals(
                SyncOutcome.NeedsMember::class,
                BackgroundSync(phone::sync).run()::class,
                "background sync after logout needs the member",
            )
        }
    }
}

fun cleanUpLive() {
    if (live) scratch.toFile().deleteRecursively()
}
