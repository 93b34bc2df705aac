// The screen ports over the one `Carnet` handle of the generated bindings:
// `CarnetPorts` (QR, tokens, account) and `CarnetRequestsPort` (requests).
package org.carnet.shell

import org.carnet.core.AbsenteeismLeave
import org.carnet.core.Account
import org.carnet.core.AttachmentRef as CoreAttachmentRef
import org.carnet.core.ClaimItem
import org.carnet.core.ClaimKind as CoreClaimKind
import org.carnet.core.ContinuityCertificate
import org.carnet.core.FamilyRelation as CoreRelation
import org.carnet.core.LeaveReason as CoreLeaveReason
import org.carnet.core.MemberRequest
import org.carnet.core.ReimbursementClaim
import org.carnet.core.RemoteCareReason as CoreCareReason
import org.carnet.core.RemoteCareRegistration
import org.carnet.core.RequestForm as CoreForm
import org.carnet.core.SyncCancelHandle
import org.carnet.core.SyncPhase as CorePhase
import org.carnet.core.SyncProgressListener
import org.carnet.core.SyncProgressReport
import org.carnet.core.CarnetException
import org.carnet.core.CarnetInterface
import org.carnet.core.ConsultToken
import org.carnet.core.Device
import org.carnet.core.Enrolment
import org.carnet.core.QrCode
import org.carnet.core.QrPurpose
import org.carnet.core.Registration
import org.carnet.core.SyncReport
import org.carnet.core.Transaction

class CarnetPorts(private val carnet: CarnetInterface) : QrPort, TokenPort, AccountPort {
    // QR
    override fun pinIsSet(): Boolean = carnet.credentialPinIsSet()
    override suspend fun setPin(current: String?, newPin: String) = carnet.setCredentialPin(current, newPin)
    override suspend fun unlock(pin: String) = carnet.unlockCredential(pin)
    override fun unlockWithBiometric() = carnet.unlockCredentialWithBiometric()
    override suspend fun currentQr(purpose: QrPurpose): QrCode = carnet.currentQr(purpose)

    // Tokens
    override suspend fun requestToken(practice: String?): ConsultToken = carnet.requestToken(practice)
    override suspend fun offlineToken(practice: String?): ConsultToken = carnet.offlineToken(practice)
    override fun tokens(): List<ConsultToken> = carnet.tokens()
    override suspend fun reEnableTokens() = carnet.reEnableTokens()
    override suspend fun sync(): SyncReport = carnet.sync()

    // Account
    override suspend fun register(registration: Registration): String = carnet.register(registration)
    override suspend fun confirmEmail(username: String, code: String) = carnet.confirmEmail(username, code)
    override suspend fun login(username: String, password: String) = carnet.login(username, password)
    override suspend fun enrolDevice(deviceName: String): Enrolment = carnet.enrolDevice(deviceName)
    override fun enrolment(): Enrolment? = try {
        carnet.enrolment()
    } catch (e: CarnetException.NotEnrolled) {
        null
    }
    override suspend fun account(): Account = carnet.account()
    override suspend fun devices(): List<Device> = carnet.devices()
    override suspend fun revokeDevice(deviceId: String) = carnet.revokeDevice(deviceId)
    override fun transactions(): List<Transaction> = carnet.transactions()
    override suspend fun logout() = carnet.logout()

    /** The vault's directory, for the platform's backup exclusion. */
    fun vaultLocation(): String? = carnet.vaultLocation()
}

/**
 * The requests screens over the core's outbox and sync: one core call per
 * member action (each call crosses the FFI; the core does the whole job).
 * Converts between the screens' editable forms ([RequestForm] here: text as
 * typed, empty strings for "not given yet") and the core's records.
 *
 * Two things a draft cannot keep, because the core's form cannot hold them:
 * "family care" without a relation yet is saved as no reason, and an amount
 * that is not a number (which [RequestFormModel.amountProblems] flags on
 * screen) is saved as 0 cents.
 */
class CarnetRequestsPort(private val carnet: CarnetInterface) : RequestsPort {
    override suspend fun addAttachment(bytes: ByteArray, mediaType: String, fileName: String): AttachmentRef =
        carnet.addAttachment(bytes, mediaType, fileName).toShell()

    override suspend fun saveDraft(id: String?, form: RequestForm): String = invalidAsShell {
        val core = form.toCore()
        if (id == null) carnet.saveRequestDraft(core).id else carnet.updateRequestDraft(id, core).id
    }

    override suspend fun submit(id: String) {
        invalidAsShell { carnet.submitRequest(id) }
    }

    override suspend fun recall(id: String) {
        carnet.recallRequest(id)
    }

    override suspend fun list(): RequestListing {
        val listing = carnet.requests()
        return RequestListing(listing.requests.map { it.toShell() }, listing.unreadable.toInt())
    }

    /**
     * One full sync with progress. [handle]'s cancel reaches the core's
     * `SyncCancelHandle`; a cancelled sync returns normally (the list shows
     * "sync cancelled" from [RequestSyncHandle.cancelled]).
     */
    override suspend fun sync(handle: RequestSyncHandle, progress: (SyncProgress) -> Unit) {
        val link = CancelLink(SyncCancelHandle())
        val unregister = handle.onCancel(link::cancel)
        val listener = object : SyncProgressListener {
            // Called on a Rust thread; the screens' state is a StateFlow.
            override fun onProgress(progress: SyncProgressReport): Boolean {
                progress(progress.toShell())
                return true
            }
        }
        try {
            carnet.syncRequests(listener, link.handle)
        } catch (e: CarnetException.SyncCancelled) {
            if (!handle.cancelled) throw e
        } finally {
            unregister()
            link.close()
        }
    }

    /** The core's handle, closed once, never cancelled after it is closed. */
    private class CancelLink(val handle: SyncCancelHandle) {
        private var open = true

        @Synchronized fun cancel() {
            if (open) handle.cancel()
        }

        @Synchronized fun close() {
            open = false
            handle.close()
        }
    }

    private inline fun <T> invalidAsShell(block: () -> T): T = try {
        block()
    } catch (e: CarnetException.RequestInvalid) {
        throw RequestInvalid(e.problems.map { FieldProblem(it.field, it.code, it.limits) })
    }

    companion object {
        fun CoreAttachmentRef.toShell() = AttachmentRef(sha256, size.toLong(), mediaType, fileName)
        fun AttachmentRef.toCore() = CoreAttachmentRef(sha256, size.toULong(), mediaType, fileName)

        private fun date(text: String): String? = text.trim().ifEmpty { null }

        /** The screens' form as the core's record. */
        fun RequestForm.toCore(): CoreForm = when (this) {
            is LeaveForm -> CoreForm.Leave(
                AbsenteeismLeave(
                    reason = when (reason) {
                        LeaveReason.OWN_ILLNESS -> CoreLeaveReason.OwnIllness
                        LeaveReason.FAMILY_CARE -> relation?.let { CoreLeaveReason.FamilyCare(CoreRelation.valueOf(it.name)) }
                        null -> null
                    },
                    start = date(start),
                    end = date(end),
                    workplace = workplace,
                    medicalCertificate = medicalCertificate?.toCore(),
                ),
            )
            is ContinuityForm -> CoreForm.Continuity(
                ContinuityCertificate(
                    // A year that is not a number is not a year yet: the
                    // core then reports `school_year` as missing.
                    schoolYear = schoolYear.trim().toIntOrNull(),
                    school = school,
                    certificate = certificate?.toCore(),
                ),
            )
            is RemoteCareForm -> CoreForm.RemoteCare(
                RemoteCareRegistration(
                    homeRegion = homeRegion,
                    destinationRegion = destinationRegion,
                    facility = facility,
                    start = date(start),
                    end = date(end),
                    reason = reason?.let { CoreCareReason.valueOf(it.name) },
                    details = details,
                    attachments = attachments.map { it.toCore() },
                ),
            )
            is ClaimForm -> CoreForm.Claim(
                ReimbursementClaim(
                    claimKind = claimKind?.let { CoreClaimKind.valueOf(it.name) },
                    items = items.map { ClaimItem(it.description, Money.parseCents(it.amount) ?: 0, it.currency) },
                    receipts = receipts.map { it.toCore() },
                ),
            )
            else -> throw IllegalArgumentException("unknown form ${this::class.simpleName}")
        }

        /** The core's record as the screens' form. */
        fun CoreForm.toShell(): RequestForm = when (this) {
            is CoreForm.Leave -> LeaveForm(
                reason = when (form.reason) {
                    is CoreLeaveReason.OwnIllness -> LeaveReason.OWN_ILLNESS
                    is CoreLeaveReason.FamilyCare -> LeaveReason.FAMILY_CARE
                    null -> null
                },
                relation = (form.reason as? CoreLeaveReason.FamilyCare)?.let { FamilyRelation.valueOf(it.relation.name) },
                start = form.start.orEmpty(),
                end = form.end.orEmpty(),
                workplace = form.workplace,
                medicalCertificate = form.medicalCertificate?.toShell(),
            )
            is CoreForm.Continuity -> ContinuityForm(
                schoolYear = form.schoolYear?.toString().orEmpty(),
                school = form.school,
                certificate = form.certificate?.toShell(),
            )
            is CoreForm.RemoteCare -> RemoteCareForm(
                homeRegion = form.homeRegion,
                destinationRegion = form.destinationRegion,
                facility = form.facility,
                start = form.start.orEmpty(),
                end = form.end.orEmpty(),
                reason = form.reason?.let { RemoteCareReason.valueOf(it.name) },
                details = form.details,
                attachments = form.attachments.map { it.toShell() },
            )
            is CoreForm.Claim -> ClaimForm(
                claimKind = form.claimKind?.let { ClaimKind.valueOf(it.name) },
                items = form.items.map { ClaimItemInput(it.description, Money.format(it.amountCents), it.currency) },
                receipts = form.receipts.map { it.toShell() },
            )
        }

        fun MemberRequest.toShell() = RequestSummary(
            id = id,
            kind = RequestKind.valueOf(kind.name),
            status = RequestStatus.valueOf(state.name),
            reasons = reasons,
            revision = revision.toInt(),
            form = form.toShell(),
        )

        /** Bytes for files, requests for requests, changes applied for statuses. */
        fun SyncProgressReport.toShell(): SyncProgress = when (phase) {
            CorePhase.ATTACHMENTS -> SyncProgress(SyncPhase.ATTACHMENTS, clamp(bytesDone), clamp(bytesTotal))
            CorePhase.REQUESTS -> SyncProgress(SyncPhase.REQUESTS, requestsDone.toInt(), requestsTotal.toInt())
            CorePhase.STATUSES -> SyncProgress(SyncPhase.STATUSES, statusesApplied.toInt(), statusesApplied.toInt())
        }

        private fun clamp(bytes: ULong): Int = bytes.coerceAtMost(Int.MAX_VALUE.toULong()).toInt()
    }
}

/**
 * The placeholder from before the requests API was generated: an empty
 * list, and saving says it did not save. Kept only until the app's
 * ShellViewModel switches to [CarnetRequestsPort].
 */
@Deprecated("The requests API is bound", ReplaceWith("CarnetRequestsPort(carnet)"))
object RequestsNotBound : RequestsPort {
    private fun unavailable(): Nothing = throw CarnetException.Unexpected("requests_not_bound")
    override suspend fun addAttachment(bytes: ByteArray, mediaType: String, fileName: String): AttachmentRef = unavailable()
    override suspend fun saveDraft(id: String?, form: RequestForm): String = unavailable()
    override suspend fun submit(id: String) = unavailable()
    override suspend fun recall(id: String) = unavailable()
    override suspend fun list() = RequestListing(emptyList(), 0)
    override suspend fun sync(handle: RequestSyncHandle, progress: (SyncProgress) -> Unit) {}
}
