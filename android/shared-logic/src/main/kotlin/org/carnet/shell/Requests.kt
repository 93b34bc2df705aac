// Leave, continuity, remote-care and claim forms, and the requests list.
// These types mirror the core's (core/src/requests, docs/adr/0005-outbox.md:
// wire names, states, field problems) in the shape the screens edit; the
// adapter over the generated API is `CarnetRequestsPort` (CoreAdapters.kt).
package org.carnet.shell

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

enum class RequestKind(val wire: String) {
    ABSENTEEISM_LEAVE("absenteeism_leave"),
    CONTINUITY_CERTIFICATE("continuity_certificate"),
    REMOTE_CARE("remote_care"),
    REIMBURSEMENT_CLAIM("reimbursement_claim"),
}

/** The core's `StateName`. */
enum class RequestStatus(val wire: String) {
    DRAFT("draft"), QUEUED("queued"), SENT("sent"), RECEIVED("received"), UNDER_REVIEW("under_review"),
    RETURNED("returned"), RESUBMITTED("resubmitted"), APPROVED("approved"), REJECTED("rejected"),
    ;

    /** The member may edit the form (the core's rule: draft or returned). */
    val editable: Boolean get() = this == DRAFT || this == RETURNED

    /** Waiting on this phone for the network. */
    val pending: Boolean get() = this == QUEUED || this == RESUBMITTED
}

/** A stored attachment, as the outbox cites it (content-addressed). */
data class AttachmentRef(val sha256: String, val size: Long, val mediaType: String, val fileName: String) {
    override fun toString() = "AttachmentRef(${sha256.take(8)}.., $size bytes)"
}

/**
 * One refused field, as the core reports it: [field] is the wire path
 * (`end`, `items[2].amount_cents`, `receipts`), [code] the problem
 * (`missing`, `too_long`, `end_before_start`, ...), [limits] its numbers.
 */
data class FieldProblem(val field: String, val code: String, val limits: List<Long> = emptyList())

/** Thrown by [RequestsPort.submit]: nothing was queued; fix these. */
class RequestInvalid(val problems: List<FieldProblem>) : Exception("${problems.size} field problem(s)")

/** The forms, as the member fills them in: anything may still be empty. */
sealed interface RequestForm {
    val kind: RequestKind
}

enum class LeaveReason(val wire: String) { OWN_ILLNESS("own_illness"), FAMILY_CARE("family_care") }

enum class FamilyRelation(val wire: String) {
    SPOUSE_OR_PARTNER("spouse_or_partner"), CHILD("child"), PARENT("parent"), SIBLING("sibling"),
    GRANDPARENT("grandparent"), GRANDCHILD("grandchild"), PARENT_IN_LAW("parent_in_law"),
    OTHER_RELATIVE("other_relative"),
}

data class LeaveForm(
    val reason: LeaveReason? = null,
    val relation: FamilyRelation? = null,
    /** `YYYY-MM-DD` from the date picker, or empty. */
    val start: String = "",
    val end: String = "",
    val workplace: String = "",
    val medicalCertificate: AttachmentRef? = null,
) : RequestForm {
    override val kind get() = RequestKind.ABSENTEEISM_LEAVE
    override fun toString() = "LeaveForm(..)"
}

data class ContinuityForm(
    /** The school year as typed (a calendar year), or empty. */
    val schoolYear: String = "",
    val school: String = "",
    val certificate: AttachmentRef? = null,
) : RequestForm {
    override val kind get() = RequestKind.CONTINUITY_CERTIFICATE
    override fun toString() = "ContinuityForm(..)"
}

enum class RemoteCareReason(val wire: String) { RELOCATION("relocation"), TEMPORARY_STAY("temporary_stay"), REFERRAL("referral") }

data class RemoteCareForm(
    val homeRegion: String = "",
    val destinationRegion: String = "",
    val facility: String = "",
    val start: String = "",
    val end: String = "",
    val reason: RemoteCareReason? = null,
    val details: String = "",
    val attachments: List<AttachmentRef> = emptyList(),
) : RequestForm {
    override val kind get() = RequestKind.REMOTE_CARE
    override fun toString() = "RemoteCareForm(..)"
}

enum class ClaimKind(val wire: String) { OUTPATIENT("outpatient"), INPATIENT("inpatient"), GLOBAL("global") }

/** A claim line as typed: the amount as text, parsed by [Money]. */
data class ClaimItemInput(val description: String = "", val amount: String = "", val currency: String = "ARS") {
    override fun toString() = "ClaimItemInput(..)"
}

data class ClaimForm(
    val claimKind: ClaimKind? = null,
    val items: List<ClaimItemInput> = listOf(ClaimItemInput()),
    val receipts: List<AttachmentRef> = emptyList(),
) : RequestForm {
    override val kind get() = RequestKind.REIMBURSEMENT_CLAIM
    override fun toString() = "ClaimForm(..)"
}

/** A request in the list. [reasons] are the reviewer's, for returned and rejected ones. */
data class RequestSummary(
    val id: String,
    val kind: RequestKind,
    val status: RequestStatus,
    val reasons: List<String>,
    val revision: Int,
    val form: RequestForm,
) {
    override fun toString() = "RequestSummary($kind, $status, rev $revision)"
}

data class RequestListing(val requests: List<RequestSummary>, val unreadable: Int)

/** Sync progress as the core will report it. */
data class SyncProgress(val phase: SyncPhase, val done: Int, val total: Int)

enum class SyncPhase(val wire: String) { ATTACHMENTS("attachments"), REQUESTS("requests"), STATUSES("statuses") }

/** What the requests screens need from the core. */
interface RequestsPort {
    /** Stores the file's bytes in the vault; the form then cites the reference. */
    suspend fun addAttachment(bytes: ByteArray, mediaType: String, fileName: String): AttachmentRef
    /** Saves (flushed) a new draft (id null) or an edit; returns the id. */
    suspend fun saveDraft(id: String?, form: RequestForm): String
    /** Validates and queues; throws [RequestInvalid] with every problem. */
    suspend fun submit(id: String)
    /** Takes a queued request back to draft. */
    suspend fun recall(id: String)
    suspend fun list(): RequestListing
    /** Uploads and pulls statuses, reporting progress; stops early after [RequestSyncHandle.cancel]. */
    suspend fun sync(handle: RequestSyncHandle, progress: (SyncProgress) -> Unit)
}

/**
 * The explicit cancel handle (UniFFI does not cancel Rust futures). The
 * adapter forwards [cancel] to the core's `SyncCancelHandle` through
 * [onCancel].
 */
class RequestSyncHandle {
    @Volatile var cancelled = false
        private set
    private val actions = java.util.concurrent.CopyOnWriteArrayList<() -> Unit>()

    /** Idempotent; callable from any thread. */
    fun cancel() {
        cancelled = true
        actions.forEach { it() }
    }

    /**
     * Runs [action] on [cancel], or at once if already cancelled; returns
     * what unregisters it. [action] may run twice (racing a [cancel]), so
     * it must be idempotent.
     */
    fun onCancel(action: () -> Unit): () -> Unit {
        actions += action
        if (cancelled) action()
        return { actions -= action }
    }
}

/** Amounts as typed in any of the app's languages, to cents. */
object Money {
    /** Cents as the amount field shows them again (`1250.50`, `12`); [parseCents] reads it back. */
    fun format(cents: Long): String {
        val sign = if (cents < 0) "-" else ""
        val abs = kotlin.math.abs(cents)
        return if (abs % 100 == 0L) "$sign${abs / 100}" else "$sign${abs / 100}.${(abs % 100).toString().padStart(2, '0')}"
    }

    private val persianDigits = "۰۱۲۳۴۵۶۷۸۹"
    private val arabicDigits = "٠١٢٣٤٥٦٧٨٩"

    /**
     * `12`, `12.5`, `12,50`, `1.234,50`, `1,234.50`, Persian or Arabic-Indic
     * digits, with `٫` as decimal separator; null when not an amount with at
     * most two decimals.
     */
    fun parseCents(text: String): Long? {
        val ascii = buildString {
            for (c in text.trim()) {
                val p = persianDigits.indexOf(c)
                val a = arabicDigits.indexOf(c)
                append(
                    when {
                        p >= 0 -> '0' + p
                        a >= 0 -> '0' + a
                        c == '٫' -> '.'
                        // Spaces and the Arabic thousands sign only group thousands.
                        c == '٬' || c == ' ' || c == '\u00a0' || c == '\u202f' -> '_'
                        else -> c
                    },
                )
            }
        }
        if (ascii.isEmpty() || !ascii.all { it.isDigit() || it == '.' || it == ',' || it == '_' }) return null
        val lastSeparator = ascii.indexOfLast { it == '.' || it == ',' }
        val decimals = if (lastSeparator >= 0) ascii.length - lastSeparator - 1 else 0
        val (whole, fraction) = if (lastSeparator >= 0 && decimals in 1..2) {
            // The decimal separator cannot also group thousands (`12.345.6`).
            if (ascii.substring(0, lastSeparator).contains(ascii[lastSeparator])) return null
            ascii.substring(0, lastSeparator) to ascii.substring(lastSeparator + 1)
        } else if (lastSeparator >= 0 && decimals == 3) {
            ascii to "" // `1.234` or `1,234`: a thousands separator
        } else if (lastSeparator < 0) {
            ascii to ""
        } else {
            return null
        }
        if (!fraction.all { it.isDigit() }) return null // `12,5 0`
        val wholeDigits = whole.filter { it.isDigit() }
        // Thousands separators must group by three.
        if (whole.any { !it.isDigit() } && !Regex("\\d{1,3}([.,_]\\d{3})*").matches(whole)) return null
        if (wholeDigits.isEmpty() || wholeDigits.length > 13) return null
        return wholeDigits.toLong() * 100 + fraction.padEnd(2, '0').toLong()
    }
}

/** A form screen's state: the form, its messages, and where it stands. */
data class RequestFormState<F : RequestForm>(
    val form: F,
    val id: String? = null,
    val status: RequestStatus = RequestStatus.DRAFT,
    /** The reviewer's reasons when the request came back. */
    val returnedReasons: List<String> = emptyList(),
    /** Messages by wire path (`end`, `items[0].amount_cents`). */
    val fieldErrors: Map<String, UiText> = emptyMap(),
    val saving: Boolean = false,
    /** Every edit is on disk. */
    val saved: Boolean = true,
    val message: UiText? = null,
    val submitted: Boolean = false,
)

/**
 * One form's logic. Each edit is saved as a draft after [autosaveMillis]
 * of quiet (and at once on [saveNow], [submit] and when the screen goes
 * away), so a draft is never lost to a killed app.
 */
class RequestFormModel<F : RequestForm>(
    initial: F,
    private val port: RequestsPort,
    private val scheduler: Scheduler,
    private val autosaveMillis: Long = 1_000,
    existing: RequestSummary? = null,
) {
    private val _state = MutableStateFlow(
        RequestFormState(
            form = initial,
            id = existing?.id,
            status = existing?.status ?: RequestStatus.DRAFT,
            returnedReasons = if (existing?.status == RequestStatus.RETURNED) existing.reasons else emptyList(),
        ),
    )
    val state: StateFlow<RequestFormState<F>> = _state.asStateFlow()
    private var autosave: Cancellable? = null

    val editable: Boolean get() = _state.value.status.editable && !_state.value.submitted

    fun edit(change: (F) -> F) {
        if (!editable) return
        val before = _state.value
        val form = change(before.form)
        if (form == before.form) return
        val changedPaths = paths(before.form, form)
        _state.value = before.copy(
            form = form,
            saved = false,
            fieldErrors = before.fieldErrors.filterKeys { path -> changedPaths.none { path.startsWith(it) } },
        )
        autosave?.cancel()
        autosave = scheduler.schedule(autosaveMillis) { saveNow() }
    }

    /** Reads a picked file into the vault and attaches it (the core checks type and size). */
    suspend fun attach(bytes: ByteArray, mediaType: String, fileName: String, into: (F, AttachmentRef) -> F) {
        val ref = try {
            port.addAttachment(bytes, mediaType, fileName)
        } catch (e: RequestInvalid) {
            _state.value = _state.value.copy(message = e.problems.firstOrNull()?.let(::messageFor) ?: UiText("attachment_refused"))
            return
        } catch (e: org.carnet.core.CarnetException) {
            // The core says why (empty, too large, type, name): `error_attachment_*`.
            _state.value = _state.value.copy(message = ErrorMessages.of(e, 0).message)
            return
        }
        edit { into(it, ref) }
    }

    suspend fun saveNow() {
        autosave?.cancel()
        val current = _state.value
        if (current.saved && current.id != null) return
        _state.value = current.copy(saving = true)
        val id = try {
            port.saveDraft(current.id, current.form)
        } catch (e: Exception) {
            _state.value = _state.value.copy(saving = false, message = UiText("draft_not_saved"))
            return
        }
        // Edits made while saving stay unsaved and are saved next time.
        _state.value = _state.value.copy(id = id, saving = false, saved = _state.value.form == current.form)
    }

    /** Saves, then queues for sending; on problems, shows them under their fields. */
    suspend fun submit() {
        saveNow()
        val id = _state.value.id ?: return
        if (!_state.value.saved) return
        try {
            port.submit(id)
        } catch (e: org.carnet.core.CarnetException) {
            _state.value = _state.value.copy(message = ErrorMessages.of(e, 0).message)
            return
        } catch (e: RequestInvalid) {
            _state.value = _state.value.copy(
                fieldErrors = e.problems.associate { it.field to messageFor(it) },
                message = UiText("form_fix_fields", e.problems.size),
            )
            return
        }
        _state.value = _state.value.copy(
            submitted = true,
            status = if (_state.value.status == RequestStatus.RETURNED) RequestStatus.RESUBMITTED else RequestStatus.QUEUED,
            fieldErrors = emptyMap(),
            message = UiText("request_queued"),
        )
    }

    /** Adds a claim line (claims only). */
    fun addItem() = edit { form ->
        @Suppress("UNCHECKED_CAST")
        if (form is ClaimForm) form.copy(items = form.items + ClaimItemInput(currency = form.items.lastOrNull()?.currency ?: "ARS")) as F else form
    }

    /**
     * Local messages before the core sees the form: only what the core
     * cannot know, i.e. an amount typed that is not a number.
     */
    fun amountProblems(): Map<String, UiText> {
        val form = _state.value.form as? ClaimForm ?: return emptyMap()
        return form.items.withIndex()
            .filter { (_, item) -> item.amount.isNotBlank() && Money.parseCents(item.amount) == null }
            .associate { (i, _) -> "items[$i].amount_cents" to UiText("problem_amount_format") }
    }

    companion object {
        /** The message under a field for a core problem. */
        fun messageFor(problem: FieldProblem): UiText = UiText("problem_${problem.code}", problem.limits)

        /** Wire paths whose values differ between two forms (to clear their messages). */
        fun paths(a: RequestForm, b: RequestForm): List<String> {
            val changed = mutableListOf<String>()
            fun check(path: String, x: Any?, y: Any?) { if (x != y) changed += path }
            when {
                a is LeaveForm && b is LeaveForm -> {
                    check("reason", a.reason to a.relation, b.reason to b.relation)
                    check("start", a.start, b.start); check("end", a.end, b.end)
                    check("workplace", a.workplace, b.workplace)
                    check("medical_certificate", a.medicalCertificate, b.medicalCertificate)
                }
                a is RemoteCareForm && b is RemoteCareForm -> {
                    check("home_region", a.homeRegion, b.homeRegion)
                    check("destination_region", a.destinationRegion, b.destinationRegion)
                    check("facility", a.facility, b.facility); check("reason", a.reason, b.reason)
                    check("start", a.start, b.start); check("end", a.end, b.end)
                    check("details", a.details, b.details); check("attachments", a.attachments, b.attachments)
                    // The region rule is reported on the destination.
                    if (a.homeRegion != b.homeRegion) changed += "destination_region"
                }
                a is ContinuityForm && b is ContinuityForm -> {
                    check("school_year", a.schoolYear, b.schoolYear)
                    check("school", a.school, b.school)
                    check("certificate", a.certificate, b.certificate)
                }
                a is ClaimForm && b is ClaimForm -> {
                    check("claim_kind", a.claimKind, b.claimKind)
                    check("receipts", a.receipts, b.receipts)
                    if (a.items.size != b.items.size) changed += "items"
                    for (i in 0 until maxOf(a.items.size, b.items.size)) {
                        check("items[$i]", a.items.getOrNull(i), b.items.getOrNull(i))
                    }
                }
                else -> changed += ""
            }
            return changed
        }
    }
}

/** A row of the requests list. */
data class RequestRow(
    val id: String,
    val kind: UiText,
    val status: UiText,
    val reasons: List<String>,
    val needsAction: Boolean,
    val waitingForNetwork: Boolean,
)

data class RequestsListState(
    val rows: List<RequestRow> = emptyList(),
    /** Records that cannot be read; they are kept, never dropped (ADR 0005). */
    val unreadable: Int = 0,
    /** Shown while [unreadable] > 0. */
    val unreadableMessage: UiText? = null,
    val syncing: Boolean = false,
    val progress: SyncProgress? = null,
    val message: UiText? = null,
)

class RequestsListModel(private val port: RequestsPort) {
    private val _state = MutableStateFlow(RequestsListState())
    val state: StateFlow<RequestsListState> = _state.asStateFlow()
    @Volatile private var handle: RequestSyncHandle? = null

    suspend fun load() {
        val listing = port.list()
        // The unreadable count stays on screen apart from other messages (UiText "requests_unreadable").
        _state.value = _state.value.copy(
            rows = listing.requests.map(::row),
            unreadable = listing.unreadable,
            unreadableMessage = if (listing.unreadable > 0) UiText("requests_unreadable", listing.unreadable) else null,
        )
    }

    /** Syncs with progress; [cancel] stops it at the next safe point. */
    suspend fun sync() {
        if (handle != null) return
        val mine = RequestSyncHandle()
        handle = mine
        _state.value = _state.value.copy(syncing = true, progress = null, message = null)
        var message: UiText? = null
        try {
            port.sync(mine) { progress -> _state.value = _state.value.copy(progress = progress) }
            if (mine.cancelled) message = UiText("sync_cancelled")
        } catch (e: Exception) {
            message = if (e is org.carnet.core.CarnetException) ErrorMessages.of(e, 0).message else UiText("error_unexpected")
        } finally {
            handle = null
        }
        _state.value = _state.value.copy(syncing = false, progress = null, message = message)
        load()
    }

    fun cancel() {
        handle?.cancel()
    }

    companion object {
        fun row(request: RequestSummary) = RequestRow(
            id = request.id,
            kind = UiText("request_kind_${request.kind.wire}"),
            status = UiText("request_status_${request.status.wire}"),
            reasons = if (request.status == RequestStatus.RETURNED || request.status == RequestStatus.REJECTED ||
                request.status == RequestStatus.RESUBMITTED
            ) {
                request.reasons
            } else {
                emptyList()
            },
            needsAction = request.status == RequestStatus.RETURNED || request.status == RequestStatus.DRAFT,
            waitingForNetwork = request.status.pending,
        )
    }
}
