// The member's story through the generated Kotlin bindings, against the
// reference insurer backend (started by scripts/kotlin-test.sh).
//
// Environment: CARNET_SERVER_URL (https://localhost:PORT), CARNET_CA_PEM
// (path of the backend's CA certificate), CARNET_BACKEND_LOG (the backend's
// log, where it prints e-mail confirmation codes), CARNET_ADMIN_KEY_FILE (the
// reviewer's admin key, for RequestTests.kt).
package org.carnet.tests

import org.carnet.testing.*

import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path
import kotlin.system.exitProcess
import kotlinx.coroutines.delay
import org.carnet.core.Carnet
import org.carnet.core.CarnetConfig
import org.carnet.core.CarnetException
import org.carnet.core.Registration
import org.carnet.core.RegistrationField

internal fun env(name: String): String =
    System.getenv(name)?.takeIf { it.isNotBlank() }
        ?: throw IllegalStateException("$name is not set (run scripts/kotlin-test.sh)")

internal val serverUrl by lazy { env("CARNET_SERVER_URL") }
internal val caPem by lazy { File(env("CARNET_CA_PEM")).readText() }
private val backendLog by lazy { File(env("CARNET_BACKEND_LOG")) }
private val scratch: Path = Files.createTempDirectory("carnet-kotlin-test")
private var dirCounter = 0
private var userCounter = 0
internal const val PASSWORD = "Clave2024"
internal const val PASSPHRASE = "correct horse battery staple"

internal fun newDir(): Path = scratch.resolve("vault-${dirCounter++}")

internal fun config(
    dir: Path,
    url: String = serverUrl,
    rootCaPem: String? = caPem,
    usePublicRoots: Boolean = false,
) = CarnetConfig(
    dataDir = dir.toString(),
    serverUrl = url,
    rootCaPem = rootCaPem,
    usePublicRoots = usePublicRoots,
    spkiPins = listOf(),
)

/** A username no earlier run can have taken: 5 to 25 letters and digits. */
private fun uniqueUsername(): String =
    "kt" + System.currentTimeMillis().toString(36) + (userCounter++).toString(36) +
        (0 until 3).map { ('a'..'z').random() }.joinToString("")

private fun registration(username: String) = Registration(
    affiliateNumber = "123456/01",
    cardNumber = "6034 9300 0012 3456",
    birthDate = "1980-02-29",
    username = username,
    password = PASSWORD,
    email = "$username@example.org",
)

/** The code the backend logged for [username] (there is no mail server). */
private suspend fun confirmationCode(username: String): String {
    val pattern = Regex("confirmation code for '${Regex.escape(username)}': (\\d{6})")
    repeat(100) {
        pattern.find(backendLog.readText())?.let { return it.groupValues[1] }
        delay(100)
    }
    throw TestFailure("no confirmation code for $username in $backendLog")
}

/** A registered and confirmed member; returns the username. */
internal suspend fun confirmedMember(): String {
    val username = uniqueUsername()
    Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
        carnet.register(registration(username))
        carnet.confirmEmail(username, confirmationCode(username))
        carnet.logout()
    }
    return username
}

/** A loopback port where nothing listens. */
private fun closedPort(): Int =
    ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }

/** A self-signed CA certificate (PEM) that did not sign the backend's. */
private fun unrelatedCaPem(): String {
    val dir = Files.createTempDirectory(scratch, "wrong-ca")
    val keytool = File(System.getProperty("java.home"), "bin/keytool").path
    val keystore = dir.resolve("ca.p12").toString()
    fun keytool(vararg args: String): String {
        val process = ProcessBuilder(keytool, *args).redirectErrorStream(true).start()
        val output = process.inputStream.bufferedReader().readText()
        expectEquals(0, process.waitFor(), "keytool ${args.first()} exit status ($output)")
        return output
    }
    keytool(
        "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", "CN=Not the insurer's CA", "-ext", "bc:c", "-validity", "2",
        "-keystore", keystore, "-storetype", "PKCS12", "-storepass", "changeit",
    )
    val pem = keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", keystore, "-storepass", "changeit")
    expect(pem.contains("BEGIN CERTIFICATE")) { "keytool gave no PEM: $pem" }
    return pem
}

private fun Path.isGoneOrEmpty(): Boolean =
    !Files.exists(this) || Files.list(this).use { it.findFirst().isEmpty }

fun main() {
    val harness = Harness()
    qrTests(harness)
    tokenTests(harness)
    requestTests(harness)

    harness.test("error codes are stable strings from Rust") {
        val codes = listOf(
            CarnetException.WrongCredentials() to "wrong_credentials",
            CarnetException.EmailNotConfirmed() to "email_not_confirmed",
            CarnetException.Offline() to "offline",
            CarnetException.TlsFailure() to "tls_failure",
            CarnetException.RateLimited(30uL) to "rate_limited",
            CarnetException.InvalidRegistration(listOf()) to "invalid_registration",
            CarnetException.Unexpected("internal") to "unexpected",
        )
        for ((error, code) in codes) expectEquals(code, error.code(), "code of ${error::class.simpleName}")
    }

    harness.test("an invalid registration lists every bad field, without the network") {
        // Nothing listens at this URL: reaching the network would give Offline.
        Carnet.openWithPassphrase(config(newDir(), url = "https://localhost:${closedPort()}"), PASSPHRASE).use { carnet ->
            val bad = registration(uniqueUsername()).copy(
                cardNumber = "6034 9300",
                birthDate = "2999-01-01",
                email = "not-an-address",
            )
            val error = expectThrows<CarnetException.InvalidRegistration>("register") { carnet.register(bad) }
            expectEquals(
                listOf(RegistrationField.CARD_NUMBER, RegistrationField.BIRTH_DATE, RegistrationField.EMAIL),
                error.fields,
                "bad fields",
            )
            expectEquals("invalid_registration", error.code(), "code")
            expect(!error.message.orEmpty().contains("not-an-address")) { "the value leaked: ${error.message}" }
            val unreadableDate = expectThrows<CarnetException.InvalidRegistration>("register, date not ISO") {
                carnet.register(registration(uniqueUsername()).copy(birthDate = "29/02/1980"))
            }
            expectEquals(listOf(RegistrationField.BIRTH_DATE), unreadableDate.fields, "bad fields, date not ISO")
        }
    }

    harness.test("the member's story: register, confirm, log in, enrol, account, devices, revoke, log out") {
        val username = uniqueUsername()
        val phoneDir = newDir()
        val phone = Carnet.openWithPassphrase(config(phoneDir), PASSPHRASE)
        val location = phone.vaultLocation()
        expect(location != null && Files.isDirectory(Path.of(location))) { "vault location $location" }

        expectEquals(username, phone.register(registration(username)), "registered username")
        phone.confirmEmail(username, confirmationCode(username))
        phone.login(username, PASSWORD)

        val enrolment = phone.enrolDevice("Pixel 8")
        expectEquals("Pixel 8", enrolment.deviceName, "device name")
        expect(enrolment.memberId.isNotEmpty()) { "no member id" }
        val now = System.currentTimeMillis() / 1000
        expect(enrolment.certificateExpiresAt > now) { "certificate already expired: ${enrolment.certificateExpiresAt}" }
        expect(enrolment.certificateIssuedAt <= now + 60) { "certificate issued in the future" }
        expectEquals(enrolment, phone.enrolment(), "enrolment read back from the vault")

        val account = phone.account()
        expectEquals(username, account.username, "account username")
        expectEquals("$username@example.org", account.email, "account e-mail")
        expectEquals("123456/01", account.affiliateNumber, "affiliate number")
        expectEquals("3456", account.cardLast4, "card last 4")
        expectEquals("1980-02-29", account.birthDate, "birth date")
        expectEquals(enrolment.memberId, account.memberId, "member id of account and certificate")
        // The certificate carries the plan's code (short, for the QR), the
        // account the plan's name; the rest is the same coverage.
        expectEquals(account.coverage.region, enrolment.coverage.region, "region of account and certificate")
        expectEquals(account.coverage.validUntil, enrolment.coverage.validUntil, "coverage end of account and certificate")
        expect(enrolment.coverage.plan.isNotEmpty()) { "no plan code in the certificate" }
        expect(account.coverage.plan.isNotEmpty()) { "no plan" }

        val devices = phone.devices()
        expectEquals(1, devices.size, "devices after one enrolment")
        expectEquals(enrolment.deviceId, devices[0].id, "device id")
        expectEquals("Pixel 8", devices[0].name, "listed device name")
        expectEquals(null, devices[0].revokedAt, "revoked_at of a fresh device")

        // A second device of the same member, in its own vault.
        val tabletDir = newDir()
        Carnet.openWithPassphrase(config(tabletDir), "another passphrase").use { tablet ->
            tablet.login(username, PASSWORD)
            val tabletEnrolment = tablet.enrolDevice("Tablet")
            expect(tabletEnrolment.deviceId != enrolment.deviceId) { "same device id twice" }
            expectEquals(enrolment.memberId, tabletEnrolment.memberId, "member id on the second device")

            phone.revokeDevice(tabletEnrolment.deviceId)
            val after = phone.devices().associateBy { it.id }
            expectEquals(2, after.size, "devices after two enrolments")
            expect(after.getValue(tabletEnrolment.deviceId).revokedAt != null) { "the tablet is not revoked" }
            expectEquals(null, after.getValue(enrolment.deviceId).revokedAt, "revoked_at of the phone")
            tablet.logout()
        }
        expectThrows<CarnetException.NotFound>("revoke an unknown device") { phone.revokeDevice("00ff00ff00ff") }

        phone.logout()
        expect(Path.of(location!!).isGoneOrEmpty()) { "the vault directory was not wiped" }
        val closed = expectThrows<CarnetException.Closed>("account after logout") { phone.account() }
        expectEquals("closed", closed.code(), "code after logout")
        expectThrows<CarnetException.Closed>("enrolment after logout") { phone.enrolment() }
        expectThrows<CarnetException.Closed>("logout twice") { phone.logout() }
        phone.close()
    }

    harness.test("a wrong confirmation code is refused, the right one accepted") {
        val username = uniqueUsername()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            carnet.register(registration(username))
            val code = confirmationCode(username)
            val wrong = if (code == "000000") "111111" else "000000"
            val error = expectThrows<CarnetException.WrongConfirmationCode>("wrong code") {
                carnet.confirmEmail(username, wrong)
            }
            expectEquals("wrong_confirmation_code", error.code(), "code")
            carnet.confirmEmail(username, code)
            carnet.login(username, PASSWORD)
            carnet.logout()
        }
    }

    harness.test("a taken username is refused") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            val again = registration(username).copy(email = "other-$username@example.org")
            expectThrows<CarnetException.UsernameTaken>("register twice") { carnet.register(again) }
        }
    }

    harness.test("logging in before confirming the e-mail is refused") {
        val username = uniqueUsername()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            carnet.register(registration(username))
            expectThrows<CarnetException.EmailNotConfirmed>("login before confirming") {
                carnet.login(username, PASSWORD)
            }
            expectThrows<CarnetException.NotLoggedIn>("account without a session") { carnet.account() }
        }
    }

    harness.test("a wrong password is refused; calls before login say what is missing") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            val error = expectThrows<CarnetException.WrongCredentials>("wrong password") {
                carnet.login(username, "Wrong2024")
            }
            expectEquals("wrong_credentials", error.code(), "code")
            expectThrows<CarnetException.WrongCredentials>("unknown user") { carnet.login(username + "x", PASSWORD) }
            expectThrows<CarnetException.NotLoggedIn>("devices without a session") { carnet.devices() }
            expectThrows<CarnetException.NotLoggedIn>("enrol without a session") { carnet.enrolDevice("Pixel 8") }
            expectThrows<CarnetException.NotEnrolled>("enrolment before enrolling") { carnet.enrolment() }
        }
    }

    harness.test("a wrong passphrase does not open the vault; a second opener is refused") {
        val dir = newDir()
        Carnet.openWithPassphrase(config(dir), PASSPHRASE).use { first ->
            expectThrows<CarnetException.VaultInUse>("open while open") {
                Carnet.openWithPassphrase(config(dir), PASSPHRASE).close()
            }
            expectThrows<CarnetException.NotEnrolled>("first handle still works") { first.enrolment() }
        }
        val error = expectThrows<CarnetException.WrongVaultKey>("wrong passphrase") {
            Carnet.openWithPassphrase(config(dir), "wrong passphrase").close()
        }
        expectEquals("wrong_vault_key", error.code(), "code")
        Carnet.openWithPassphrase(config(dir), PASSPHRASE).use { reopened ->
            expectThrows<CarnetException.NotEnrolled>("reopened with the right passphrase") { reopened.enrolment() }
        }
    }

    harness.test("a backend that is down gives Offline") {
        val username = confirmedMember()
        val url = "https://localhost:${closedPort()}"
        Carnet.openWithPassphrase(config(newDir(), url = url), PASSPHRASE).use { carnet ->
            val error = expectThrows<CarnetException.Offline>("login") { carnet.login(username, PASSWORD) }
            expectEquals("offline", error.code(), "code")
        }
    }

    harness.test("a server certificate from another CA gives TlsFailure") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir(), rootCaPem = unrelatedCaPem()), PASSPHRASE).use { carnet ->
            val error = expectThrows<CarnetException.TlsFailure>("login, unrelated CA") {
                carnet.login(username, PASSWORD)
            }
            expectEquals("tls_failure", error.code(), "code")
        }
        Carnet.openWithPassphrase(config(newDir(), rootCaPem = null, usePublicRoots = true), PASSPHRASE).use { carnet ->
            expectThrows<CarnetException.TlsFailure>("login, public roots only") { carnet.login(username, PASSWORD) }
        }
        val bad = expectThrows<CarnetException.InvalidConfig>("open with a CA that is not PEM") {
            Carnet.openWithPassphrase(config(newDir(), rootCaPem = "not a certificate"), PASSPHRASE).close()
        }
        expectEquals("invalid_config", bad.code(), "code")
    }

    harness.test("a Kotlin keystore and a Kotlin device key, called from Rust threads") {
        val username = confirmedMember()
        val keyStore = AesGcmKeyStore()
        val signer = EcDeviceSigner()
        val dir = newDir()
        val enrolment = Carnet.openWithKeyStore(config(dir), keyStore, signer).use { carnet ->
            expectEquals(1, keyStore.wrapCalls.get(), "data key wrapped once when the vault is made")
            carnet.login(username, PASSWORD)
            val enrolment = carnet.enrolDevice("Kotlin signer")
            expectEquals(1, signer.signCalls.get(), "enrolment signatures")
            val testThread = Thread.currentThread().name
            expect(signer.callingThreads.isNotEmpty() && signer.callingThreads.none { it == testThread }) {
                "signer called from ${signer.callingThreads}, the test runs on $testThread"
            }
            // The backend accepted the Kotlin key's proof of possession and
            // certified it; the device is listed.
            expect(carnet.devices().any { it.id == enrolment.deviceId && it.revokedAt == null }) { "device not listed" }
            enrolment
        }
        // Reopening unwraps the data key through Kotlin; the enrolment is readable.
        Carnet.openWithKeyStore(config(dir), keyStore, signer).use { carnet ->
            expect(keyStore.unwrapCalls.get() >= 1) { "data key never unwrapped" }
            expectEquals(enrolment, carnet.enrolment(), "enrolment after reopening")
        }
        // Another keystore key cannot unwrap it.
        expectThrows<CarnetException.VaultKeyLost>("reopen with another keystore key") {
            Carnet.openWithKeyStore(config(dir), AesGcmKeyStore(), null).close()
        }
    }

    harness.test("keystore and device key failures reach the app as typed errors") {
        val keyStore = AesGcmKeyStore()
        val dir = newDir()
        Carnet.openWithKeyStore(config(dir), keyStore, null).close()
        val locked = expectThrows<CarnetException.VaultLocked>("keystore locked") {
            Carnet.openWithKeyStore(config(dir), FailingKeyStore(keyStore, KeyStoreFailure.LOCKED), null).close()
        }
        expectEquals("vault_locked", locked.code(), "code")
        expectThrows<CarnetException.VaultKeyLost>("keystore key invalidated") {
            Carnet.openWithKeyStore(config(dir), FailingKeyStore(keyStore, KeyStoreFailure.INVALIDATED), null).close()
        }
        val crashed = expectThrows<CarnetException.Unexpected>("keystore threw an undeclared exception") {
            Carnet.openWithKeyStore(config(dir), FailingKeyStore(keyStore, KeyStoreFailure.CRASH), null).close()
        }
        expectEquals("keystore_failed", crashed.what, "what")
        // Nothing was lost: the real keystore still opens it.
        Carnet.openWithKeyStore(config(dir), keyStore, null).close()

        val username = confirmedMember()
        val lockedSigner = EcDeviceSigner(lockedSigning = true)
        Carnet.openWithKeyStore(config(newDir()), AesGcmKeyStore(), lockedSigner).use { carnet ->
            carnet.login(username, PASSWORD)
            val error = expectThrows<CarnetException.DeviceKeyLocked>("enrol with a locked key") {
                carnet.enrolDevice("Locked phone")
            }
            expectEquals("device_key_locked", error.code(), "code")
            expectEquals(1, lockedSigner.signCalls.get(), "sign attempts")
            expectThrows<CarnetException.NotEnrolled>("nothing enrolled") { carnet.enrolment() }
            expect(carnet.devices().isEmpty()) { "a device was enrolled without a signature" }
        }
    }

    val failed = harness.run()
    scratch.toFile().deleteRecursively()
    exitProcess(if (failed == 0) 0 else 1)
}
