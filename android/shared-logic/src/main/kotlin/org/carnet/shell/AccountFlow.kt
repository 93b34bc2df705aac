// Sign-up and sign-in: register (every bad field at once), confirm the
// e-mail, log in, enrol this device. Then the account screen: coverage,
// devices (revoke), pharmacy purchases, logout.
package org.carnet.shell

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.carnet.core.Account
import org.carnet.core.CarnetException
import org.carnet.core.Device
import org.carnet.core.Enrolment
import org.carnet.core.Registration
import org.carnet.core.RegistrationField
import org.carnet.core.Transaction

interface AccountPort {
    suspend fun register(registration: Registration): String
    suspend fun confirmEmail(username: String, code: String)
    suspend fun login(username: String, password: String)
    suspend fun enrolDevice(deviceName: String): Enrolment
    /** This device's enrolment, or null when it is not enrolled. */
    fun enrolment(): Enrolment?
    suspend fun account(): Account
    suspend fun devices(): List<Device>
    suspend fun revokeDevice(deviceId: String)
    fun transactions(): List<Transaction>
    suspend fun logout()
}

enum class SignInStep { REGISTER, CONFIRM_EMAIL, LOG_IN, ENROL, DONE }

data class RegistrationInput(
    val affiliateNumber: String = "",
    val cardNumber: String = "",
    /** `YYYY-MM-DD`, from the date picker. */
    val birthDate: String = "",
    val username: String = "",
    val password: String = "",
    val email: String = "",
) {
    fun toRegistration() = Registration(
        affiliateNumber = affiliateNumber.trim(),
        cardNumber = cardNumber,
        birthDate = birthDate.trim(),
        username = username.trim(),
        password = password,
        email = email.trim(),
    )

    override fun toString() = "RegistrationInput(..)" // personal data: never in logs
}

data class SignInState(
    val step: SignInStep = SignInStep.LOG_IN,
    val registration: RegistrationInput = RegistrationInput(),
    /** Messages under the registration fields the core refused. */
    val fieldErrors: Map<RegistrationField, UiText> = emptyMap(),
    val username: String = "",
    val busy: Boolean = false,
    val message: UiText? = null,
    val enrolment: Enrolment? = null,
)

class SignInModel(
    private val port: AccountPort,
    private val clock: Clock,
    /** The name this device is enrolled under ("Pixel 8", "iPhone"). */
    private val deviceName: String,
) {
    private val _state = MutableStateFlow(SignInState())
    val state: StateFlow<SignInState> = _state.asStateFlow()

    /** Where to start: done when this device is enrolled, else log in. */
    fun start() {
        val enrolment = try {
            port.enrolment()
        } catch (e: CarnetException) {
            return fail(e)
        }
        _state.value = if (enrolment != null) {
            SignInState(step = SignInStep.DONE, enrolment = enrolment)
        } else {
            SignInState(step = SignInStep.LOG_IN)
        }
    }

    fun showRegistration() = update { it.copy(step = SignInStep.REGISTER, message = null) }
    fun showLogIn() = update { it.copy(step = SignInStep.LOG_IN, message = null) }

    fun editRegistration(change: (RegistrationInput) -> RegistrationInput) = update { state ->
        val edited = change(state.registration)
        // A field the member changed loses its message; the others keep theirs.
        val stillWrong = state.fieldErrors.filterKeys { field -> value(field, edited) == value(field, state.registration) }
        state.copy(registration = edited, fieldErrors = stillWrong)
    }

    suspend fun register() {
        val input = _state.value.registration
        update { it.copy(busy = true, message = null) }
        val username = try {
            port.register(input.toRegistration())
        } catch (e: CarnetException.InvalidRegistration) {
            update {
                it.copy(
                    busy = false,
                    fieldErrors = e.fields.associateWith(ErrorMessages::registrationField),
                    message = UiText("registration_fix_fields", e.fields.size),
                )
            }
            return
        } catch (e: CarnetException) {
            return fail(e)
        }
        update {
            it.copy(
                step = SignInStep.CONFIRM_EMAIL,
                username = username,
                registration = RegistrationInput(),
                fieldErrors = emptyMap(),
                busy = false,
                message = UiText("confirm_email_sent"),
            )
        }
    }

    suspend fun confirmEmail(code: String) {
        val username = _state.value.username
        update { it.copy(busy = true, message = null) }
        try {
            port.confirmEmail(username, code.trim())
        } catch (e: CarnetException) {
            return fail(e)
        }
        update { it.copy(step = SignInStep.LOG_IN, busy = false, message = UiText("email_confirmed")) }
    }

    /** Logs in and, when this device is not enrolled yet, enrols it. */
    suspend fun logIn(username: String, password: String) {
        update { it.copy(username = username.trim(), busy = true, message = null) }
        try {
            port.login(username.trim(), password)
        } catch (e: CarnetException.EmailNotConfirmed) {
            update { it.copy(step = SignInStep.CONFIRM_EMAIL, busy = false, message = UiText("error_email_not_confirmed")) }
            return
        } catch (e: CarnetException) {
            return fail(e)
        }
        update { it.copy(step = SignInStep.ENROL) }
        enrol()
    }

    suspend fun enrol() {
        update { it.copy(busy = true, message = null) }
        val enrolment = try {
            port.enrolment() ?: port.enrolDevice(deviceName)
        } catch (e: CarnetException) {
            return fail(e)
        }
        update { it.copy(step = SignInStep.DONE, busy = false, enrolment = enrolment) }
    }

    private fun fail(e: CarnetException) {
        val problem = ErrorMessages.of(e, clock.nowMillis() / 1000)
        update {
            it.copy(
                busy = false,
                message = problem.message,
                step = if (problem.recovery == Recovery.LOG_IN) SignInStep.LOG_IN else it.step,
            )
        }
    }

    private inline fun update(change: (SignInState) -> SignInState) {
        _state.value = change(_state.value)
    }

    private fun value(field: RegistrationField, input: RegistrationInput) = when (field) {
        RegistrationField.AFFILIATE_NUMBER -> input.affiliateNumber
        RegistrationField.CARD_NUMBER -> input.cardNumber
        RegistrationField.BIRTH_DATE -> input.birthDate
        RegistrationField.USERNAME -> input.username
        RegistrationField.PASSWORD -> input.password
        RegistrationField.EMAIL -> input.email
    }
}

data class AccountScreenState(
    val account: Account? = null,
    val devices: List<Device> = emptyList(),
    val thisDeviceId: String? = null,
    val transactions: List<Transaction> = emptyList(),
    val busy: Boolean = false,
    val message: UiText? = null,
    /** Logged out: the app goes back to sign-in with a fresh handle. */
    val loggedOut: Boolean = false,
)

class AccountScreenModel(private val port: AccountPort, private val clock: Clock) {
    private val _state = MutableStateFlow(AccountScreenState())
    val state: StateFlow<AccountScreenState> = _state.asStateFlow()

    /** Account and devices from the insurer (the account falls back to the vault's copy offline). */
    suspend fun load() {
        _state.value = _state.value.copy(busy = true, message = null)
        try {
            val thisDevice = port.enrolment()?.deviceId
            val account = port.account()
            _state.value = _state.value.copy(account = account, thisDeviceId = thisDevice, transactions = port.transactions())
            _state.value = _state.value.copy(devices = port.devices(), busy = false)
        } catch (e: CarnetException) {
            fail(e)
        }
    }

    suspend fun revoke(deviceId: String) {
        _state.value = _state.value.copy(busy = true, message = null)
        try {
            port.revokeDevice(deviceId)
            _state.value = _state.value.copy(devices = port.devices(), busy = false, message = UiText("device_revoked"))
        } catch (e: CarnetException) {
            fail(e)
        }
    }

    suspend fun logOut() {
        _state.value = _state.value.copy(busy = true, message = null)
        try {
            port.logout()
        } catch (e: CarnetException.Closed) {
            // Already logged out: nothing left to wipe.
        } catch (e: CarnetException) {
            return fail(e)
        }
        _state.value = AccountScreenState(loggedOut = true)
    }

    private fun fail(e: CarnetException) {
        val problem = ErrorMessages.of(e, clock.nowMillis() / 1000)
        _state.value = _state.value.copy(busy = false, message = problem.message, loggedOut = problem.recovery == Recovery.LOG_IN && e is CarnetException.Closed)
    }
}
