// CarnetRequestsPort over the real core and the reference insurer (started
// by scripts/shells-check.sh): the form and list screens file a leave with
// its certificate, the list syncs it with progress, and a cancelled sync
// reaches the core's cancel handle. Skipped without a backend.
package org.carnet.shell.test

import org.carnet.testing.*

import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.delay
import org.carnet.core.Carnet
import org.carnet.core.CarnetConfig
import org.carnet.core.Registration
import org.carnet.shell.CarnetRequestsPort
import org.carnet.shell.ClaimForm
import org.carnet.shell.ClaimItemInput
import org.carnet.shell.ClaimKind
import org.carnet.shell.ContinuityForm
import org.carnet.shell.FamilyRelation
import org.carnet.shell.LeaveForm
import org.carnet.shell.LeaveReason
import org.carnet.shell.RequestFormModel
import org.carnet.shell.RequestInvalid
import org.carnet.shell.RequestStatus
import org.carnet.shell.RequestSyncHandle
import org.carnet.shell.RequestsListModel
import org.carnet.shell.Scheduler
import org.carnet.shell.SyncPhase
import org.carnet.shell.SyncProgress
import org.carnet.shell.UiText

private fun liveEnv(name: String): String =
    System.getenv(name)?.takeIf { it.isNotBlank() } ?: throw Skipped("$name unset (run scripts/shells-check.sh)")

/** A confirmed, logged-in member in a fresh passphrase vault. */
private suspend fun loggedIn(): Carnet {
    val url = liveEnv("CARNET_SERVER_URL")
    val ca = File(liveEnv("CARNET_CA_PEM")).readText()
    val log = File(liveEnv("CARNET_BACKEND_LOG"))
    val dir = Files.createTempDirectory("carnet-requests-adapter")
    val carnet = Carnet.openWithPassphrase(CarnetConfig(dir.toString(), url, ca, false, listOf()), "adapter test passphrase")
    val username = "ra" + System.currentTimeMillis().toString(36) + (0 until 4).map { ('a'..'z').random() }.joinToString("")
    carnet.register(Registration("123456/01", "6034 9300 0012 3456", "1980-02-29", username, "Clave2024", "$username@example.org"))
    val pattern = Regex("confirmation code for '${Regex.escape(username)}': (\\d{6})")
    var code: String? = null
    repeat(100) {
        code = code ?: pattern.find(log.readText())?.groupValues?.get(1)
        if (code == null) delay(100)
    }
    carnet.confirmEmail(username, code ?: throw TestFailure("no confirmation code"))
    carnet.login(username, "Clave2024")
    return carnet
}

/** Autosave never fires on its own here: the tests save explicitly. */
private object NoScheduler : Scheduler {
    override fun schedule(delayMillis: Long, action: suspend () -> Unit) = org.carnet.shell.Cancellable {}
}

fun requestAdapterTests(harness: Harness) {
    harness.test("live: requests adapter: file a leave with its certificate, list, sync with progress, cancel") {
        loggedIn().use { carnet ->
            val port = CarnetRequestsPort(carnet)
            val form = RequestFormModel(LeaveForm(), port, NoScheduler)
            form.attach("%PDF-1.4 certificado".toByteArray(), "application/pdf", "certificado.pdf") { f, ref ->
                f.copy(medicalCertificate = ref)
            }
            expectEquals(null, form.state.value.message, "attached")
            form.attach(ByteArray(0), "application/pdf", "vacío.pdf") { f, _ -> f }
            expectEquals(UiText("error_attachment_empty"), form.state.value.message, "an empty file is refused with its reason")

            // Incomplete: every problem under its field, from the core.
            form.submit()
            expectEquals(
                setOf("reason", "start", "end", "workplace"),
                form.state.value.fieldErrors.keys,
                "fields to correct",
            )
            expectEquals(UiText("problem_missing", listOf<Long>()), form.state.value.fieldErrors["start"], "message")

            form.edit {
                it.copy(reason = LeaveReason.FAMILY_CARE, relation = FamilyRelation.PARENT, start = "2026-03-02",
                    end = "2026-03-04", workplace = "Escuela 4-123")
            }
            form.submit()
            expect(form.state.value.submitted) { "not submitted: ${form.state.value.message} ${form.state.value.fieldErrors}" }

            // Other kinds round-trip through the core unchanged.
            val claim = ClaimForm(ClaimKind.OUTPATIENT, listOf(ClaimItemInput("Consulta", "1.250,50", "ARS")))
            val claimId = port.saveDraft(null, claim)
            val continuity = ContinuityForm("2026", "Escuela 4-123")
            val continuityId = port.saveDraft(null, continuity)
            val byId = port.list().requests.associateBy { it.id }
            expectEquals(ClaimForm(ClaimKind.OUTPATIENT, listOf(ClaimItemInput("Consulta", "1250.50", "ARS"))), byId.getValue(claimId).form, "claim")
            expectEquals(continuity, byId.getValue(continuityId).form, "continuity")
            val invalid = try {
                port.submit(claimId)
                null
            } catch (e: RequestInvalid) {
                e
            }
            expectEquals(listOf("receipts"), invalid?.problems?.map { it.field }, "claim without receipts")

            val list = RequestsListModel(port)
            list.load()
            val leaveRow = list.state.value.rows.single { it.id == form.state.value.id }
            expect(leaveRow.waitingForNetwork) { "queued leave waits for the network" }

            // Cancelled before it starts: the core's handle is cancelled, nothing sent.
            val cancelled = RequestSyncHandle().apply { cancel() }
            port.sync(cancelled) { }
            expectEquals(RequestStatus.QUEUED, port.list().requests.single { it.id == leaveRow.id }.status, "nothing sent")

            val seen = mutableListOf<SyncProgress>()
            port.sync(RequestSyncHandle()) { synchronized(seen) { seen += it } }
            expect(seen.any { it.phase == SyncPhase.REQUESTS && it.done == 1 && it.total == 1 }) { "progress: $seen" }
            list.load()
            val synced = list.state.value.rows.single { it.id == leaveRow.id }
            expectEquals(UiText("request_status_received"), synced.status, "received by the insurer")
            expect(!synced.waitingForNetwork) { "no longer waiting" }
        }
    }
}
