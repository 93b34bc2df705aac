// The screen ports over the one `Carnet` handle of the generated bindings.
// When the requests API is generated, `CarnetRequestsPort` joins them here.
package org.carnet.shell

import org.carnet.core.Account
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
 * Until the requests API is generated: the list is empty and saving says
 * the draft was not saved (never pretends). Replaced by an adapter over the
 * generated `Carnet.save_draft` / `submit` / `requests` / `sync_requests`.
 */
object RequestsNotBound : RequestsPort {
    private fun unavailable(): Nothing = throw CarnetException.Unexpected("requests_not_bound")
    override suspend fun addAttachment(bytes: ByteArray, mediaType: String, fileName: String): AttachmentRef = unavailable()
    override suspend fun saveDraft(id: String?, form: RequestForm): String = unavailable()
    override suspend fun submit(id: String) = unavailable()
    override suspend fun recall(id: String) = unavailable()
    override suspend fun list() = RequestListing(emptyList(), 0)
    override suspend fun sync(handle: RequestSyncHandle, progress: (SyncProgress) -> Unit) {}
}
