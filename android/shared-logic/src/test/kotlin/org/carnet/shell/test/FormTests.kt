// Request forms and the requests list, against an in-memory outbox that
// behaves like the core's (docs/adr/0005-outbox.md).
package org.carnet.shell.test

import org.carnet.testing.*

import org.carnet.core.CarnetException
import org.carnet.shell.AttachmentRef
import org.carnet.shell.ClaimForm
import org.carnet.shell.ClaimItemInput
import org.carnet.shell.FieldProblem
import org.carnet.shell.LeaveForm
import org.carnet.shell.LeaveReason
import org.carnet.shell.Money
import org.carnet.shell.RemoteCareForm
import org.carnet.shell.RequestForm
import org.carnet.shell.RequestFormModel
import org.carnet.shell.RequestInvalid
import org.carnet.shell.RequestListing
import org.carnet.shell.RequestStatus
import org.carnet.shell.RequestSummary
import org.carnet.shell.RequestSyncHandle
import org.carnet.shell.RequestsListModel
import org.carnet.shell.RequestsPort
import org.carnet.shell.SyncPhase
import org.carnet.shell.SyncProgress
import org.carnet.shell.UiText

class FakeOutbox : RequestsPort {
    val saved = mutableMapOf<String, RequestForm>()
    val status = mutableMapOf<String, RequestStatus>()
    val reasons = mutableMapOf<String, List<String>>()
    var saves = 0
    var problems: List<FieldProblem> = emptyList()
    var unreadable = 0
    var syncError: CarnetException? = null
    private var next = 0

    override suspend fun addAttachment(bytes: ByteArray, mediaType: String, fileName: String): AttachmentRef {
        if (mediaType !in setOf("image/jpeg", "image/png", "application/pdf")) {
            throw RequestInvalid(listOf(FieldProblem("attachments", "invalid_attachment")))
        }
        return AttachmentRef("%064x".format(bytes.contentHashCode()), bytes.size.toLong(), mediaType, fileName)
    }

    override suspend fun saveDraft(id: String?, form: RequestForm): String {
        saves++
        val key = id ?: "%032x".format(++next)
        check(status[key]?.editable ?: true) { "not editable" }
        saved[key] = form
        status.putIfAbsent(key, RequestStatus.DRAFT)
        return key
    }

    override suspend fun submit(id: String) {
        if (problems.isNotEmpty()) throw RequestInvalid(problems)
        status[id] = if (status[id] == RequestStatus.RETURNED) RequestStatus.RESUBMITTED else RequestStatus.QUEUED
    }

    override suspend fun recall(id: String) {
        status[id] = RequestStatus.DRAFT
    }

    override suspend fun list() = RequestListing(
        saved.map { (id, form) -> RequestSummary(id, form.kind, status.getValue(id), reasons[id].orEmpty(), 1, form) },
        unreadable,
    )

    override suspend fun sync(handle: RequestSyncHandle, progress: (SyncProgress) -> Unit) {
        syncError?.let { throw it }
        val pending = status.filterValues { it.pending }.keys.toList()
        for ((i, id) in pending.withIndex()) {
            if (handle.cancelled) return
            progress(SyncProgress(SyncPhase.REQUESTS, i, pending.size))
            status[id] = RequestStatus.SENT
        }
        progress(SyncProgress(SyncPhase.STATUSES, 0, 1))
    }
}

fun formTests(harness: Harness) {
    requestAdapterTests(harness)
    harness.test("form: edits are saved as one draft after a quiet second, never lost") {
        val time = ManualTime(0)
        val outbox = FakeOutbox()
        val model = RequestFormModel(LeaveForm(), outbox, time)
        model.edit { it.copy(reason = LeaveReason.OWN_ILLNESS) }
        time.advanceBy(500)
        model.edit { it.copy(workplace = "Escuela 1-234") }
        time.advanceBy(500)
        model.edit { it.copy(start = "2026-11-02") }
        expectEquals(0, outbox.saves, "nothing saved while typing")
        expect(!model.state.value.saved) { "shown as unsaved" }
        time.advanceBy(1_000)
        expectEquals(1, outbox.saves, "one save after a quiet second")
        val id = model.state.value.id ?: throw TestFailure("no id")
        expectEquals("Escuela 1-234", (outbox.saved.getValue(id) as LeaveForm).workplace, "saved content")
        expect(model.state.value.saved) { "shown as saved" }
        model.edit { it.copy(end = "2026-11-04") }
        model.saveNow()
        expectEquals(2, outbox.saves, "saved at once when the screen goes")
        expectEquals(id, outbox.saved.keys.single(), "the same draft, not a second one")
        time.advanceBy(5_000)
        expectEquals(2, outbox.saves, "the pending autosave was called off")
    }

    harness.test("form: the core's field problems show under their fields; editing one clears only it") {
        val time = ManualTime(0)
        val outbox = FakeOutbox()
        outbox.problems = listOf(
            FieldProblem("end", "end_before_start"),
            FieldProblem("workplace", "too_long", listOf(200)),
            FieldProblem("medical_certificate", "missing"),
        )
        val model = RequestFormModel(LeaveForm(reason = LeaveReason.OWN_ILLNESS), outbox, time)
        model.edit { it.copy(start = "2026-11-05", end = "2026-11-01", workplace = "x".repeat(250)) }
        model.submit()
        val state = model.state.value
        expectEquals(UiText("problem_end_before_start"), state.fieldErrors["end"], "end")
        expectEquals(UiText("problem_too_long", 200L), state.fieldErrors["workplace"], "workplace")
        expectEquals(UiText("problem_missing"), state.fieldErrors["medical_certificate"], "certificate")
        expectEquals(UiText("form_fix_fields", 3), state.message, "summary")
        expectEquals(RequestStatus.DRAFT, outbox.status.values.single(), "nothing queued")

        model.edit { it.copy(end = "2026-11-09") }
        expectEquals(setOf("workplace", "medical_certificate"), model.state.value.fieldErrors.keys, "end cleared")

        outbox.problems = emptyList()
        model.attach(byteArrayOf(1, 2, 3), "application/pdf", "certificado.pdf") { form, ref -> form.copy(medicalCertificate = ref) }
        expectEquals(setOf("workplace"), model.state.value.fieldErrors.keys, "certificate cleared")
        model.attach(byteArrayOf(1), "text/plain", "notes.txt") { form, ref -> form.copy(medicalCertificate = ref) }
        expectEquals(UiText("problem_invalid_attachment"), model.state.value.message, "refused file")
        model.edit { it.copy(workplace = "Escuela 1-234") }
        model.submit()
        expect(model.state.value.submitted) { "submitted" }
        expectEquals(RequestStatus.QUEUED, outbox.status.values.single(), "queued")
        model.edit { it.copy(workplace = "changed after submit") }
        expectEquals("Escuela 1-234", model.state.value.form.workplace, "not editable once queued")
    }

    harness.test("form: a returned request shows the reviewer's reasons and is resubmitted") {
        val time = ManualTime(0)
        val outbox = FakeOutbox()
        val id = outbox.saveDraft(null, RemoteCareForm(homeRegion = "AR-M", destinationRegion = "AR-C"))
        outbox.status[id] = RequestStatus.RETURNED
        outbox.reasons[id] = listOf("Falta la derivación médica")
        val summary = outbox.list().requests.single()
        val model = RequestFormModel(summary.form as RemoteCareForm, outbox, time, existing = summary)
        expectEquals(listOf("Falta la derivación médica"), model.state.value.returnedReasons, "reasons shown")
        expect(model.editable) { "a returned request is editable" }
        model.edit { it.copy(details = "Adjunto la derivación") }
        model.submit()
        expectEquals(RequestStatus.RESUBMITTED, outbox.status[id], "resubmitted in the outbox")
        expectEquals(RequestStatus.RESUBMITTED, model.state.value.status, "resubmitted on screen")
    }

    harness.test("form: claim lines by path, amounts typed in every language") {
        val time = ManualTime(0)
        val outbox = FakeOutbox()
        val model = RequestFormModel(ClaimForm(), outbox, time)
        model.addItem()
        model.edit { it.copy(items = listOf(ClaimItemInput("Consulta", "12,50", "ars"), ClaimItemInput("Receta", "doce"))) }
        expectEquals(mapOf("items[1].amount_cents" to UiText("problem_amount_format")), model.amountProblems(), "local amount check")
        outbox.problems = listOf(FieldProblem("items[0].currency", "invalid_currency", listOf(0)), FieldProblem("receipts", "missing"))
        model.submit()
        expectEquals(setOf("items[0].currency", "receipts"), model.state.value.fieldErrors.keys, "paths")
        model.edit { it.copy(items = listOf(it.items[0].copy(currency = "ARS"), it.items[1])) }
        expectEquals(setOf("receipts"), model.state.value.fieldErrors.keys, "line 0 cleared")

        val cases = mapOf(
            "12" to 1200L, "12.5" to 1250L, "12,50" to 1250L, "1.234,50" to 123450L, "1,234.50" to 123450L,
            "1.234" to 123400L, "۱۲٫۵۰" to 1250L, "١٢٫٥" to 1250L, "1 234,5" to 123450L,
            "" to null, "12.345.6" to null, "12,3456" to null, "-5" to null, "1,23,4" to null, "abc" to null,
        )
        for ((text, cents) in cases) expectEquals(cents, Money.parseCents(text), "cents of '$text'")
    }

    harness.test("requests list: statuses, returned reasons, sync progress and cancel") {
        val outbox = FakeOutbox()
        val a = outbox.saveDraft(null, LeaveForm())
        val b = outbox.saveDraft(null, ClaimForm())
        val c = outbox.saveDraft(null, RemoteCareForm())
        outbox.status[a] = RequestStatus.RETURNED
        outbox.reasons[a] = listOf("Certificado ilegible")
        outbox.status[b] = RequestStatus.QUEUED
        outbox.status[c] = RequestStatus.APPROVED
        outbox.reasons[c] = listOf("ignored for approved")
        outbox.unreadable = 1
        val model = RequestsListModel(outbox)
        model.load()
        val rows = model.state.value.rows.associateBy { it.id }
        expectEquals(UiText("request_status_returned"), rows.getValue(a).status, "returned status")
        expectEquals(listOf("Certificado ilegible"), rows.getValue(a).reasons, "returned reasons")
        expect(rows.getValue(a).needsAction) { "returned needs the member" }
        expectEquals(UiText("request_kind_reimbursement_claim"), rows.getValue(b).kind, "kind")
        expect(rows.getValue(b).waitingForNetwork) { "queued waits for the network" }
        expectEquals(emptyList<String>(), rows.getValue(c).reasons, "no reasons on approved")
        expectEquals(UiText("requests_unreadable", 1), model.state.value.unreadableMessage, "unreadable told, not hidden")

        model.sync()
        expect(!model.state.value.syncing && model.state.value.progress == null) { "sync over" }
        expectEquals(RequestStatus.SENT, outbox.status[b], "queued request sent")

        outbox.status[b] = RequestStatus.QUEUED
        val cancelling = object : RequestsPort by outbox {
            lateinit var screen: RequestsListModel
            override suspend fun sync(handle: RequestSyncHandle, progress: (SyncProgress) -> Unit) {
                progress(SyncProgress(SyncPhase.ATTACHMENTS, 0, 2))
                screen.state.value.progress?.let { progressSeen += it }
                screen.cancel()
                outbox.sync(handle, progress)
            }
            val progressSeen = mutableListOf<SyncProgress>()
        }
        val cancelModel = RequestsListModel(cancelling)
        cancelling.screen = cancelModel
        cancelModel.sync()
        expectEquals(listOf(SyncProgress(SyncPhase.ATTACHMENTS, 0, 2)), cancelling.progressSeen, "progress on screen")
        expectEquals(UiText("sync_cancelled"), cancelModel.state.value.message, "cancelled")
        expectEquals(RequestStatus.QUEUED, outbox.status[b], "nothing sent after cancel")

        outbox.syncError = CarnetException.Offline()
        model.sync()
        expectEquals(UiText("error_offline"), model.state.value.message, "offline")
    }
}
