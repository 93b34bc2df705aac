// The rotating QR through the generated bindings: the member's side behind
// the credential PIN, the rendered image read by ZXing (the decoder Android
// counter apps use), and the offline verifier fed with the insurer's JWKS
// fetched over HTTPS with the JDK's own client.
package org.carnet.tests

import org.carnet.testing.*

import com.google.zxing.BinaryBitmap
import com.google.zxing.client.j2se.BufferedImageLuminanceSource
import com.google.zxing.common.HybridBinarizer
import com.google.zxing.qrcode.QRCodeReader
import java.io.ByteArrayInputStream
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.KeyStore as JavaKeyStore
import java.security.cert.CertificateFactory
import javax.imageio.ImageIO
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import org.carnet.core.Carnet
import org.carnet.core.CarnetException
import org.carnet.core.QrPurpose
import org.carnet.core.QrVerifier
import org.carnet.core.qrPng

/** The insurer's JWKS, fetched as an integrator would: JDK HTTPS trusting the CA. */
private fun fetchJwks(): String {
    val ca = CertificateFactory.getInstance("X.509").generateCertificate(caPem.byteInputStream())
    val trust = JavaKeyStore.getInstance(JavaKeyStore.getDefaultType()).apply {
        load(null, null)
        setCertificateEntry("insurer-ca", ca)
    }
    val factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(trust) }
    val tls = SSLContext.getInstance("TLS").apply { init(null, factory.trustManagers, null) }
    val client = HttpClient.newBuilder().sslContext(tls).build()
    val request = HttpRequest.newBuilder(URI.create("$serverUrl/.well-known/jwks.json")).GET().build()
    val response = client.send(request, HttpResponse.BodyHandlers.ofString())
    expectEquals(200, response.statusCode(), "JWKS status")
    return response.body()
}

/** Decodes a PNG with ZXing. */
private fun decodePng(png: ByteArray): String {
    val image = ImageIO.read(ByteArrayInputStream(png)) ?: throw TestFailure("not a PNG")
    val bitmap = BinaryBitmap(HybridBinarizer(BufferedImageLuminanceSource(image)))
    return QRCodeReader().decode(bitmap).text
}

private fun nowSeconds(): Long = System.currentTimeMillis() / 1000

fun qrTests(harness: Harness) {
    harness.test("the QR is made offline behind the PIN, read by ZXing and verified with the JWKS alone") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            carnet.login(username, PASSWORD)
            val enrolment = carnet.enrolDevice("Kotlin phone")
            expectThrows<CarnetException.NoCredentialPin>("a QR before choosing a PIN") {
                carnet.currentQr(QrPurpose.IDENTIFY)
            }
            expectThrows<CarnetException.InvalidPin>("a trivial PIN") {
                carnet.setCredentialPin(null, "123456")
            }
            carnet.setCredentialPin(null, "207341")
            expect(carnet.credentialPinIsSet()) { "the PIN is set" }

            val code = carnet.currentQr(QrPurpose.IDENTIFY)
            expect(code.text.startsWith("CN1:")) { "prefix of ${code.text.take(8)}" }
            expectEquals(code.width.toInt() * code.width.toInt(), code.modules.size, "modules")
            expectEquals(60L, code.expiresAt - code.issuedAt, "lifetime")
            expect(code.refreshAt < code.expiresAt) { "refresh before expiry" }
            expect(code.version <= 12.toUByte()) { "version ${code.version}" }

            val scanned = decodePng(qrPng(code, 8u))
            expectEquals(code.text, scanned, "ZXing's reading of the PNG")

            val verifier = QrVerifier(fetchJwks(), nowSeconds())
            val verified = verifier.verify(scanned, QrPurpose.IDENTIFY, nowSeconds())
            expectEquals(enrolment.memberId, verified.memberId, "member id")
            expectEquals(enrolment.deviceId, verified.deviceId, "device id")
            expectEquals(QrPurpose.IDENTIFY, verified.purpose, "purpose")

            val replay = expectThrows<CarnetException.QrRejected>("the same code twice") {
                verifier.verify(scanned, QrPurpose.IDENTIFY, nowSeconds())
            }
            expectEquals("replayed", replay.reason, "replay reason")
            expect(replay.clerkMessage.isNotBlank()) { "a message for the clerk" }

            val settleWithIdentify = carnet.currentQr(QrPurpose.IDENTIFY)
            val wrongPurpose = expectThrows<CarnetException.QrRejected>("an identify code to settle") {
                verifier.verify(settleWithIdentify.text, QrPurpose.SETTLE, nowSeconds())
            }
            expectEquals("wrong_purpose", wrongPurpose.reason, "purpose reason")
            val settle = carnet.currentQr(QrPurpose.SETTLE)
            expectEquals(QrPurpose.SETTLE, verifier.verify(settle.text, QrPurpose.SETTLE, nowSeconds()).purpose, "settle")

            val late = carnet.currentQr(QrPurpose.IDENTIFY)
            val expired = expectThrows<CarnetException.QrRejected>("a code two minutes later") {
                verifier.verify(late.text, QrPurpose.IDENTIFY, late.expiresAt + 120)
            }
            expectEquals("expired", expired.reason, "expiry reason")
            val garbage = expectThrows<CarnetException.QrRejected>("another QR") {
                verifier.verify("https://example.org/menu", QrPurpose.IDENTIFY, nowSeconds())
            }
            expectEquals("not_a_carnet_code", garbage.reason, "garbage reason")
        }
    }

    harness.test("five wrong PINs lock the QR for a while") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            carnet.login(username, PASSWORD)
            carnet.enrolDevice("Kotlin phone")
            carnet.setCredentialPin(null, "581302")
            repeat(4) { attempt ->
                val wrong = expectThrows<CarnetException.WrongPin>("wrong PIN ${attempt + 1}") {
                    carnet.unlockCredential("000001")
                }
                expectEquals((4 - attempt).toUInt(), wrong.attemptsLeft, "attempts left")
            }
            val locked = expectThrows<CarnetException.PinLocked>("the fifth wrong PIN") {
                carnet.unlockCredential("000001")
            }
            expect(locked.until > nowSeconds()) { "locked until a later time" }
            expectThrows<CarnetException.PinLocked>("even the right PIN while locked") {
                carnet.unlockCredential("581302")
            }
        }
    }
}
