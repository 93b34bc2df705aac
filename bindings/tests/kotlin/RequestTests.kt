// Requests through the generated bindings, against the reference insurer:
// a leave filed offline with its certificate, queued on the phone, synced
// with progress, returned by a reviewer, corrected, resubmitted and
// approved; cancellation; typed validation and attachment errors.
//
// The reviewer acts through the backend's admin API with the key the
// backend writes to its data dir (CARNET_ADMIN_KEY_FILE, set by
// scripts/kotlin-test.sh).
package org.carnet.tests

import org.carnet.testing.*

import java.io.ByteArrayInputStream
import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Path
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.util.Collections
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext
import org.carnet.core.AbsenteeismLeave
import org.carnet.core.AttachmentRef
import org.carnet.core.Carnet
import org.carnet.core.CarnetException
import org.carnet.core.FamilyRelation
import org.carnet.core.LeaveReason
import org.carnet.core.MemberRequest
import org.carnet.core.RequestFieldProblem
import org.carnet.core.RequestForm
import org.carnet.core.RequestKind
import org.carnet.core.RequestStateName
import org.carnet.core.SyncCancelHandle
import org.carnet.core.SyncPhase
import org.carnet.core.SyncProgressListener
import org.carnet.core.SyncProgressReport

/** The reviewer's side: the backend's admin API. */
private object Reviewer {
    private val key by lazy { File(env("CARNET_ADMIN_KEY_FILE")).readText().trim() }

    /** An HTTP client trusting the backend's private CA only. */
    private val http by lazy {
        val ca = CertificateFactory.getInstance("X.509").generateCertificate(ByteArrayInputStream(caPem.toByteArray()))
        val trust = KeyStore.getInstance(KeyStore.getDefaultType()).apply {
            load(null, null)
            setCertificateEntry("carnet-test-ca", ca)
        }
        val factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(trust) }
        val tls = SSLContext.getInstance("TLS").apply { init(null, factory.trustManagers, null) }
        HttpClient.newBuilder().sslContext(tls).build()
    }

    /** `POST /v1/admin/requests/{id}/review`; returns the backend's status. */
    suspend fun review(id: String, action: String, reasons: List<String> = listOf()): String =
        withContext(Dispatchers.IO) {
            val body = buildString {
                append("{\"action\":\"").append(action).append('"')
                if (reasons.isNotEmpty()) {
                    append(",\"reasons\":[")
                    append(reasons.joinToString(",") { "\"" + it.replace("\\", "\\\\").replace("\"", "\\\"") + "\"" })
                    append(']')
                }
                append('}')
            }
            val request = HttpRequest.newBuilder(URI.create("$serverUrl/v1/admin/requests/$id/review"))
                .header("Authorization", "Bearer $key")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build()
            val response = http.send(request, HttpResponse.BodyHandlers.ofString())
            expectEquals(200, response.statusCode(), "review $action (${response.body()})")
            Regex("\"status\"\\s*:\\s*\"(\\w+)\"").find(response.body())?.groupValues?.get(1)
                ?: throw TestFailure("no status in the review answer")
        }
}

/** Records progress and the threads it came from. */
private class ProgressRecorder : SyncProgressListener {
    val reports: MutableList<SyncProgressReport> = Collections.synchronizedList(mutableListOf())
    val threads: MutableSet<String> = Collections.synchronizedSet(mutableSetOf())

    override fun onProgress(progress: SyncProgressReport): Boolean {
        threads += Thread.currentThread().name
        reports += progress
        return true
    }
}

/** A listener that throws: progress is advisory and must not fail the sync. */
private object ThrowingListener : SyncProgressListener {
    override fun onProgress(progress: SyncProgressReport): Boolean = throw IllegalStateException("progress bar gone")
}

/** A loopback port where nothing listens. */
private fun deadPort(): Int = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }

/** Bytes that look like a small PDF; distinct per call so hashes differ. */
private fun pdf(tag: String): ByteArray = "%PDF-1.4\n% certificado $tag ${System.nanoTime()}\n%%EOF\n".toByteArray()

private fun leave(certificate: AttachmentRef?, workplace: String = "Escuela 4-123 Mendoza") = RequestForm.Leave(
    AbsenteeismLeave(
        reason = LeaveReason.FamilyCare(FamilyRelation.CHILD),
        start = "2026-03-02",
        end = "2026-03-06",
        workplace = workplace,
        medicalCertificate = certificate,
    ),
)

/** Logs [username] in on a fresh vault, closes it; returns the vault dir holding the session. */
private suspend fun loggedInVault(username: String): Path {
    val dir = newDir()
    Carnet.openWithPassphrase(config(dir), PASSPHRASE).use { it.login(username, PASSWORD) }
    return dir
}

fun requestTests(harness: Harness) {
    harness.test("request error codes are stable strings from Rust") {
        val codes = listOf(
            CarnetException.SyncCancelled() to "sync_cancelled",
            CarnetException.SyncOffline(6u, null) to "offline",
            CarnetException.SyncServerUnavailable(6u, 30uL) to "server_unavailable",
            CarnetException.RequestInvalid(listOf()) to "request_invalid",
            CarnetException.RequestNotEditable("sent") to "request_not_editable",
            CarnetException.RequestActionRefused("sent", "recall") to "request_action_refused",
            CarnetException.AttachmentEmpty() to "attachment_empty",
            CarnetException.AttachmentTooLarge(1uL) to "attachment_too_large",
            CarnetException.AttachmentTypeUnsupported() to "attachment_type_unsupported",
            CarnetException.AttachmentNameInvalid() to "attachment_name_invalid",
        )
        for ((error, code) in codes) expectEquals(code, error.code(), "code of ${error::class.simpleName}")
    }

    harness.test("a leave filed offline is queued, the sync gives up typed, then cancels promptly") {
        val username = confirmedMember()
        val dir = loggedInVault(username)
        // The same vault (with its session) behind a dead address: no network.
        Carnet.openWithPassphrase(config(dir, url = "https://localhost:${deadPort()}"), PASSPHRASE).use { phone ->
            val bytes = pdf("offline")
            val certificate = phone.addAttachment(bytes, "application/pdf", "certificado.pdf")
            expectEquals(bytes.size.toULong(), certificate.size, "attachment size")
            expect(Regex("[0-9a-f]{64}").matches(certificate.sha256)) { "sha256 is 64 hex digits" }
            expectEquals("application/pdf", certificate.mediaType, "media type")
            expectEquals(certificate, phone.addAttachment(bytes, "APPLICATION/PDF", "certificado.pdf"), "same bytes, same ref")

            val draft = phone.saveRequestDraft(leave(certificate))
            expectEquals(RequestStateName.DRAFT, draft.state, "saved as a draft")
            expectEquals(RequestKind.ABSENTEEISM_LEAVE, draft.kind, "kind")
            expectEquals(1uL, draft.revision, "first revision")
            expect(draft.editable && !draft.waitingForUpload) { "a draft is editable and not pending" }
            expectEquals(leave(certificate), draft.form, "form read back")

            val queued = phone.submitRequest(draft.id)
            expectEquals(RequestStateName.QUEUED, queued.state, "queued without network")
            expect(queued.waitingForUpload && !queued.editable) { "queued waits for upload" }
            expect(queued.submittedAt != null) { "submitted_at set" }

            // Several transient failures in a row, then the typed give-up.
            val started = System.nanoTime()
            val gaveUp = expectThrows<CarnetException.SyncOffline>("sync with no network") {
                phone.syncRequests(null, null)
            }
            expectEquals("offline", gaveUp.code(), "code")
            expect(gaveUp.attempts >= 2u) { "gave up after ${gaveUp.attempts} attempt(s)" }
            println("  (offline sync gave up after ${gaveUp.attempts} attempts in ${(System.nanoTime() - started) / 1_000_000} ms)")
            expectEquals(RequestStateName.QUEUED, phone.request(draft.id)?.state, "still queued after giving up")

            // Cancelled while it waits between retries: ends at once, typed.
            val handle = SyncCancelHandle()
            val cancelled = coroutineScope {
                val sync = async {
                    try {
                        phone.syncRequests(null, handle)
                        null
                    } catch (e: CarnetException) {
                        e
                    }
                }
                delay(300)
                val cancelledAt = System.nanoTime()
                handle.cancel()
                val outcome = sync.await()
                val stopMs = (System.nanoTime() - cancelledAt) / 1_000_000
                expect(stopMs < 2_000) { "the sync took $stopMs ms to stop after cancel" }
                outcome
            }
            expect(cancelled is CarnetException.SyncCancelled) { "expected SyncCancelled, got $cancelled" }
            expectEquals("sync_cancelled", cancelled!!.code(), "code")
            expect(handle.isCancelled()) { "the handle says cancelled" }
            expectEquals(1, phone.requests().requests.size, "nothing lost")
        }
    }

    harness.test("filed, synced with progress, returned, corrected, resubmitted, approved") {
        val username = confirmedMember()
        val dir = loggedInVault(username)
        val certificate: AttachmentRef
        val id: String
        // File while offline (dead address), as on a bus.
        Carnet.openWithPassphrase(config(dir, url = "https://localhost:${deadPort()}"), PASSPHRASE).use { phone ->
            certificate = phone.addAttachment(pdf("story"), "application/pdf", "certificado médico.pdf")
            id = phone.saveRequestDraft(leave(certificate)).id
            phone.submitRequest(id)
        }
        // Back online: the same vault, the real insurer.
        Carnet.openWithPassphrase(config(dir), PASSPHRASE).use { phone ->
            expectEquals(RequestStateName.QUEUED, phone.request(id)?.state, "queued across reopen")
            val progress = ProgressRecorder()
            val report = phone.syncRequests(progress, SyncCancelHandle())
            expectEquals(1u, report.requestsUploaded, "requests uploaded")
            expectEquals(certificate.size, report.attachmentBytesUploaded, "attachment bytes uploaded")
            expect(report.requestsFailed.isEmpty()) { "refused: ${report.requestsFailed}" }

            val testThread = Thread.currentThread().name
            expect(progress.threads.isNotEmpty() && testThread !in progress.threads) {
                "progress from ${progress.threads}, the test runs on $testThread"
            }
            val reports = progress.reports.toList()
            expect(reports.any { it.phase == SyncPhase.ATTACHMENTS }) { "no attachment progress: $reports" }
            expect(reports.any { it.phase == SyncPhase.REQUESTS && it.requestsDone == 1u && it.requestsTotal == 1u }) {
                "no request progress to 1 of 1: $reports"
            }
            expect(reports.zipWithNext().all { (a, b) -> b.bytesDone >= a.bytesDone && b.requestsDone >= a.requestsDone }) {
                "progress went backwards: $reports"
            }
            expect(reports.any { it.bytesDone == certificate.size && it.bytesTotal == certificate.size }) {
                "bytes never reached the total: $reports"
            }
            expect(reports.map { it.phase.ordinal }.zipWithNext().all { (a, b) -> b >= a }) { "phases out of order: $reports" }

            val received = phone.request(id)!!
            expectEquals(RequestStateName.RECEIVED, received.state, "state after the upload")
            expectEquals(1uL, received.backendRevision, "backend revision")
            expect(!received.waitingForUpload) { "no longer pending" }

            // The reviewer returns it.
            val reasons = listOf("El certificado no indica el diagnóstico", "Falta la firma del médico")
            expectEquals("returned", Reviewer.review(id, "return", reasons), "backend status")
            val pulled = phone.syncRequests(null, null)
            expect(pulled.statusChangesApplied >= 1u) { "status changes applied: ${pulled.statusChangesApplied}" }
            val returned = phone.request(id)!!
            expectEquals(RequestStateName.RETURNED, returned.state, "state after the return")
            expectEquals(reasons, returned.reasons, "the reviewer's reasons")
            expect(returned.editable) { "a returned request is editable" }

            // Corrected and resubmitted as a new revision.
            val signed = phone.addAttachment(pdf("signed"), "application/pdf", "certificado firmado.pdf")
            val edited = phone.updateRequestDraft(id, leave(signed))
            expectEquals(2uL, edited.revision, "revision after the edit")
            expectEquals(RequestStateName.RETURNED, edited.state, "still returned while editing")
            val resubmitted = phone.submitRequest(id)
            expectEquals(RequestStateName.RESUBMITTED, resubmitted.state, "resubmitted")
            expectEquals(reasons, resubmitted.reasons, "the reasons it answers")
            expect(resubmitted.waitingForUpload) { "resubmitted waits for upload" }
            val second = phone.syncRequests(null, null)
            expectEquals(1u, second.requestsUploaded, "resubmission uploaded")
            expectEquals(signed.size, second.attachmentBytesUploaded, "only the new file uploaded")
            expectEquals(RequestStateName.RECEIVED, phone.request(id)?.state, "received again")

            // Approved.
            expectEquals("approved", Reviewer.review(id, "approve"), "backend status")
            phone.syncRequests(null, null)
            val approved = phone.request(id)!!
            expectEquals(RequestStateName.APPROVED, approved.state, "state after approval")
            expect(approved.reasons.isEmpty() && !approved.editable && !approved.waitingForUpload) { "approved is final" }
            expectEquals(leave(signed), approved.form, "the approved form is the corrected one")

            // A decided request cannot be changed.
            val refused = expectThrows<CarnetException.RequestNotEditable>("edit an approved request") {
                phone.updateRequestDraft(id, leave(certificate))
            }
            expectEquals("approved", refused.state, "state in the refusal")

            val listing = phone.requests()
            expectEquals(listOf(id), listing.requests.map(MemberRequest::id), "one request listed")
            expectEquals(0u, listing.unreadable, "unreadable")
        }
    }

    harness.test("a sync given a cancelled handle stops before sending; a throwing listener is harmless") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { phone ->
            phone.login(username, PASSWORD)
            val id = phone.saveRequestDraft(leave(phone.addAttachment(pdf("cancel"), "application/pdf", "c.pdf"))).id
            phone.submitRequest(id)
            val handle = SyncCancelHandle()
            handle.cancel()
            val error = expectThrows<CarnetException.SyncCancelled>("sync with a cancelled handle") {
                phone.syncRequests(ProgressRecorder(), handle)
            }
            expectEquals("sync_cancelled", error.code(), "code")
            expectEquals(RequestStateName.QUEUED, phone.request(id)?.state, "nothing sent after cancel")

            val report = phone.syncRequests(ThrowingListener, SyncCancelHandle())
            expectEquals(1u, report.requestsUploaded, "uploaded despite a throwing listener")
            expectEquals(RequestStateName.RECEIVED, phone.request(id)?.state, "received")
        }
    }

    harness.test("validation, state and attachment problems come back typed, without values") {
        // No network needed for any of this.
        Carnet.openWithPassphrase(config(newDir(), url = "https://localhost:${deadPort()}"), PASSPHRASE).use { phone ->
            val empty = phone.saveRequestDraft(
                RequestForm.Leave(AbsenteeismLeave(null, null, "2026-03-01", "   ", null)),
            )
            val invalid = expectThrows<CarnetException.RequestInvalid>("submit an incomplete leave") {
                phone.submitRequest(empty.id)
            }
            expectEquals(
                listOf(
                    RequestFieldProblem("reason", "missing", listOf()),
                    RequestFieldProblem("start", "missing", listOf()),
                    RequestFieldProblem("workplace", "missing", listOf()),
                    RequestFieldProblem("medical_certificate", "missing", listOf()),
                ),
                invalid.problems,
                "problems",
            )
            expectEquals("request_invalid", invalid.code(), "code")
            expectEquals(RequestStateName.DRAFT, phone.request(empty.id)?.state, "still a draft")

            val tooLong = phone.saveRequestDraft(
                leave(phone.addAttachment(pdf("long"), "application/pdf", "c.pdf")).let {
                    RequestForm.Leave(it.form.copy(start = "2026-01-01", end = "2027-06-30", workplace = "Hospital Central ".repeat(20)))
                },
            )
            val limits = expectThrows<CarnetException.RequestInvalid>("submit a too long leave") {
                phone.submitRequest(tooLong.id)
            }
            expectEquals(
                listOf(RequestFieldProblem("end", "period_too_long", listOf(365L)), RequestFieldProblem("workplace", "too_long", listOf(200L))),
                limits.problems,
                "problems with limits",
            )
            expect(!limits.message.orEmpty().contains("Hospital")) { "a value leaked: ${limits.message}" }

            val badDate = expectThrows<CarnetException.RequestInvalid>("save a date that is not ISO") {
                phone.saveRequestDraft(RequestForm.Leave(AbsenteeismLeave(LeaveReason.OwnIllness, "02/03/2026", null, "x", null)))
            }
            expectEquals(listOf(RequestFieldProblem("start", "invalid_date", listOf())), badDate.problems, "date problem")
            expect(!badDate.message.orEmpty().contains("02/03")) { "the value leaked: ${badDate.message}" }

            // States.
            val recallDraft = expectThrows<CarnetException.RequestActionRefused>("recall a draft") {
                phone.recallRequest(empty.id)
            }
            expectEquals("draft", recallDraft.state, "state")
            expectEquals("recall", recallDraft.action, "action")
            val good = phone.saveRequestDraft(leave(phone.addAttachment(pdf("good"), "application/pdf", "c.pdf")))
            phone.submitRequest(good.id)
            val notEditable = expectThrows<CarnetException.RequestNotEditable>("edit a queued request") {
                phone.updateRequestDraft(good.id, leave(null))
            }
            expectEquals("queued", notEditable.state, "state")
            val recalled = phone.recallRequest(good.id)
            expectEquals(RequestStateName.DRAFT, recalled.state, "recalled to draft")
            expectEquals(2uL, phone.updateRequestDraft(good.id, leave(null, workplace = "Otra escuela")).revision, "edited after recall")
            expectThrows<CarnetException.NotFound>("submit an unknown id") { phone.submitRequest("00".repeat(16)) }
            expectThrows<CarnetException.NotFound>("submit a malformed id") { phone.submitRequest("not-an-id") }
            expectEquals(null, phone.request("00".repeat(16)), "unknown request")

            // Attachments.
            expectThrows<CarnetException.AttachmentEmpty>("empty file") {
                phone.addAttachment(ByteArray(0), "image/jpeg", "foto.jpg")
            }
            expectThrows<CarnetException.AttachmentTypeUnsupported>("a text file") {
                phone.addAttachment("hola".toByteArray(), "text/plain", "nota.txt")
            }
            expectThrows<CarnetException.AttachmentNameInvalid>("a path as file name") {
                phone.addAttachment(pdf("name"), "application/pdf", "../certificado.pdf")
            }
            val large = expectThrows<CarnetException.AttachmentTooLarge>("21 MB") {
                phone.addAttachment(ByteArray(20 * 1024 * 1024 + 1), "image/jpeg", "foto.jpg")
            }
            expectEquals(20uL * 1024u * 1024u, large.maxBytes, "limit")
            expectEquals(3, phone.requests().requests.size, "requests kept")
        }
    }
}
