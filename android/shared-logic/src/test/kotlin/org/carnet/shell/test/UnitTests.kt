// Token screen, background sync, key formats and message keys, without the
// backend (the error codes still come from the Rust library).
package org.carnet.shell.test

import org.carnet.testing.*

import java.io.File
import java.security.KeyPairGenerator
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import org.carnet.core.CarnetException
import org.carnet.core.ConsultToken
import org.carnet.core.RegistrationField
import org.carnet.core.SyncReport
import org.carnet.core.TokenStatus
import org.carnet.shell.BackgroundSync
import org.carnet.shell.ErrorMessages
import org.carnet.shell.KeyFormats
import org.carnet.shell.RequestKind
import org.carnet.shell.RequestStatus
import org.carnet.shell.SyncOutcome
import org.carnet.shell.TokenPort
import org.carnet.shell.TokenScreenModel
import org.carnet.shell.UiText

private class FakeTokens(private val now: Long) : TokenPort {
    val made = mutableListOf<ConsultToken>()
    var online: CarnetException? = null
    var offline: CarnetException? = null

    private fun token(offline: Boolean, practice: String?) =
        ConsultToken("%06d".format(made.size + 1), offline, practice, now, now + 12 * 3600, TokenStatus.Active)
            .also { made.add(0, it) }

    override suspend fun requestToken(practice: String?): ConsultToken {
        online?.let { throw it }
        return token(false, practice)
    }

    override suspend fun offlineToken(practice: String?): ConsultToken {
        offline?.let { throw it }
        return token(true, practice)
    }

    override fun tokens() = made.toList()
    override suspend fun reEnableTokens() {}
    override suspend fun sync() = SyncReport(0u, 0u, false)
}

/** Repository root: the tests run from it (scripts/shells-check.sh, Gradle's jvmTest). */
val repoRoot: File by lazy {
    File(System.getProperty("carnet.repo") ?: ".").absoluteFile.also {
        expect(File(it, "android/app/src/main/res").isDirectory) { "run from the repository root (carnet.repo=$it)" }
    }
}

/** Every string key of one platform's language (Android values dir or iOS .lproj). */
fun androidKeys(dir: String): Set<String> =
    Regex("<string name=\"([a-z0-9_]+)\"").findAll(File(repoRoot, "android/app/src/main/res/$dir/strings.xml").readText())
        .map { it.groupValues[1] }.toSet()

fun iosKeys(lproj: String): Set<String> =
    Regex("^\"([a-z0-9_]+)\"\\s*=", RegexOption.MULTILINE)
        .findAll(File(repoRoot, "ios/App/Resources/$lproj/Localizable.strings").readText())
        .map { it.groupValues[1] }.toSet()

val languageFiles = listOf("values" to "en.lproj", "values-es" to "es.lproj", "values-b+zh+Hans" to "zh-Hans.lproj", "values-fa" to "fa.lproj")

/** One instance of every CarnetException variant, built by reflection (no list to forget). */
fun everyCarnetException(): List<CarnetException> =
    CarnetException::class.java.declaredClasses
        .filter { CarnetException::class.java.isAssignableFrom(it) }
        .map { variant ->
            // Variants with unsigned fields have a private JVM constructor: open it.
            val constructor = variant.declaredConstructors.minByOrNull { it.parameterCount }!!.apply { isAccessible = true }
            val args = constructor.parameterTypes.map { type ->
                when (type) {
                    String::class.java -> "x"
                    List::class.java -> emptyList<Any>()
                    Int::class.javaPrimitiveType -> 3
                    Long::class.javaPrimitiveType -> 1_900_000_000L
                    else -> null // nullable boxed ULong and the like
                }
            }
            constructor.newInstance(*args.toTypedArray()) as CarnetException
        }

fun unitTests(harness: Harness) {
    harness.test("tokens: online first; with no network, one made on the phone") {
        val time = ManualTime(1_900_000_000_000)
        val port = FakeTokens(1_900_000_000)
        val model = TokenScreenModel(port, time)
        model.setPractice("  radiografía ")
        model.makeToken()
        expect(!model.state.value.latest!!.offline) { "online token" }
        expectEquals("radiografía", model.state.value.latest!!.practice, "practice trimmed")
        port.online = CarnetException.Offline()
        model.makeToken()
        expect(model.state.value.latest!!.offline) { "offline token when the insurer is unreachable" }
        expectEquals(UiText("token_made_offline"), model.state.value.message, "said so")
        expectEquals(2, model.state.value.rows.size, "history")
        expectEquals(12, model.state.value.rows[0].hoursLeft, "12 hours left")
        port.offline = CarnetException.TokenLimitReached(1_900_000_000 + 1_800)
        model.makeToken()
        expectEquals(UiText("error_token_limit_reached", 30), model.state.value.message, "limit, in minutes")
        port.online = CarnetException.SessionExpired()
        model.makeToken()
        expectEquals(UiText("error_session_expired"), model.state.value.message, "no offline fallback for other errors")
        time.advanceBy(13 * 3600 * 1000L)
        model.load()
        expect(model.state.value.rows.none { it.active }) { "all expired 13 h later" }
        expectEquals(UiText("token_status_expired"), model.state.value.rows[0].status, "expired label")
    }

    harness.test("background sync: done, retry later, or the member must act") {
        val ok = BackgroundSync(sync = { SyncReport(1u, 2u, false) })
        expectEquals(SyncOutcome.Done(SyncReport(1u, 2u, false)), ok.run(), "done")
        for ((error, expected) in listOf(
            CarnetException.Offline() to "retry",
            CarnetException.ServerUnavailable() to "retry",
            CarnetException.RateLimited(30uL) to "retry",
            CarnetException.VaultLocked() to "retry",
            CarnetException.TlsFailure() to "retry",
            CarnetException.SessionExpired() to "member",
            CarnetException.NotEnrolled() to "member",
            CarnetException.VaultTooNew() to "member",
        )) {
            val outcome = BackgroundSync(sync = { throw error }).run()
            val kind = when (outcome) {
                is SyncOutcome.RetryLater -> "retry"
                is SyncOutcome.NeedsMember -> "member"
                is SyncOutcome.Done -> "done"
            }
            expectEquals(expected, kind, "outcome of ${error.code()}")
        }
    }

    harness.test("key formats: the Android public key as SEC1, DER signatures as the core expects") {
        val pair = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()
        val sec1 = KeyFormats.sec1FromSpki(pair.public.encoded)
        expectEquals(65, sec1.size, "SEC1 length")
        val w = (pair.public as ECPublicKey).w
        fun fixed(n: java.math.BigInteger) = n.toByteArray().takeLast(32).toByteArray().let { ByteArray(32 - it.size) + it }
        expect(sec1.contentEquals(byteArrayOf(4) + fixed(w.affineX) + fixed(w.affineY))) { "point mismatch" }
        val der = Signature.getInstance("SHA256withECDSA").apply { initSign(pair.private); update(byteArrayOf(1, 2)) }.sign()
        expect(KeyFormats.isDerSignature(der)) { "JCA signature is DER" }
        val raw = Signature.getInstance("SHA256withECDSAinP1363Format").apply { initSign(pair.private); update(byteArrayOf(1, 2)) }.sign()
        expect(!KeyFormats.isDerSignature(raw)) { "raw r||s is not DER" }
        val rsa = KeyPairGenerator.getInstance("RSA").apply { initialize(2048) }.generateKeyPair()
        expectThrows<IllegalArgumentException>("an RSA key") { KeyFormats.sec1FromSpki(rsa.public.encoded) }
        val packed = KeyFormats.packWrapped(ByteArray(12) { it.toByte() }, ByteArray(48) { 7 })
        val (iv, sealed) = KeyFormats.unpackWrapped(packed)!!
        expect(iv.contentEquals(ByteArray(12) { it.toByte() }) && sealed.size == 48) { "round trip" }
        expectEquals(null, KeyFormats.unpackWrapped(packed.copyOf(20)), "truncated")
    }

    harness.test("strings: every core error code and every key the logic uses, in 4 languages on both platforms") {
        val codes = everyCarnetException().map { it.code() }.toSet()
        expect(codes.size >= 36) { "only ${codes.size} error codes found" }
        val needed = mutableSetOf<String>()
        codes.forEach { needed += "error_$it" }
        needed += "error_rate_limited_later"
        RegistrationField.entries.forEach { needed += ErrorMessages.registrationField(it).key }
        RequestKind.entries.forEach { needed += "request_kind_${it.wire}" }
        RequestStatus.entries.forEach { needed += "request_status_${it.wire}" }
        listOf(
            "missing", "too_long", "too_many", "end_before_start", "period_too_long", "school_year_out_of_range",
            "same_region", "amount_not_positive", "invalid_currency", "invalid_attachment", "attachment_not_stored",
            "amount_format",
        ).forEach { needed += "problem_$it" }
        // Literal keys in the shared logic's sources.
        File(repoRoot, "android/shared-logic/src/main/kotlin").walk().filter { it.extension == "kt" }.forEach { file ->
            Regex("UiText\\(\"([a-z0-9_]+)\"").findAll(file.readText()).forEach { needed += it.groupValues[1] }
        }
        val missing = mutableListOf<String>()
        for ((android, ios) in languageFiles) {
            val a = androidKeys(android)
            val i = iosKeys(ios)
            (needed - a).forEach { missing += "android $android: $it" }
            (needed - i).forEach { missing += "ios $ios: $it" }
        }
        expect(missing.isEmpty()) { "missing strings:\n  " + missing.joinToString("\n  ") }
    }
}
