// The pharmacy QR screen: PIN or biometric gate, the code, a countdown, and
// the next code fetched before this one expires. The app draws `code.modules`,
// raises the brightness while `Showing`, and keeps the window secure
// (FLAG_SECURE / privacy cover) on this screen whatever the state.
package org.carnet.shell

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.carnet.core.CarnetException
import org.carnet.core.QrCode
import org.carnet.core.QrPurpose

/** What the QR screen needs from the core (see CoreAdapters.kt). */
interface QrPort {
    fun pinIsSet(): Boolean
    suspend fun setPin(current: String?, newPin: String)
    suspend fun unlock(pin: String)
    fun unlockWithBiometric()
    suspend fun currentQr(purpose: QrPurpose): QrCode
}

sealed interface QrScreenState {
    data object Loading : QrScreenState

    /** No credential PIN yet: the member chooses six digits. */
    data class ChoosePin(val message: UiText? = null, val busy: Boolean = false) : QrScreenState

    /**
     * The gate is closed: ask for the PIN, or offer the biometric prompt.
     * [retryInSeconds] counts down a wrong-PIN pause (PIN entry disabled).
     */
    data class Locked(
        val biometricAvailable: Boolean,
        val message: UiText? = null,
        val retryInSeconds: Int? = null,
        val busy: Boolean = false,
    ) : QrScreenState

    /** A code to draw; [secondsLeft] until it expires (by this device's clock). */
    data class Showing(val code: QrCode, val secondsLeft: Int) : QrScreenState

    /** Nothing can be shown; [problem] says why and what to offer. */
    data class Failed(val problem: Problem) : QrScreenState
}

/**
 * The QR screen's logic. Call [start] when the screen shows, [stop] when it
 * hides; every action is a suspend function the UI calls from its scope.
 *
 * Timing: the code's instants are server-corrected, this device's clock may
 * be off, so deadlines are measured from the moment the code arrived: the
 * next code is fetched `min(refresh_at, expires_at - marginSeconds)` after
 * `issued_at`, counted on this device's clock, and never sooner than
 * [minRefreshMillis] (a code that arrives nearly expired cannot cause a
 * busy loop).
 */
class QrScreenModel(
    private val port: QrPort,
    private val clock: Clock,
    private val scheduler: Scheduler,
    private val biometricAvailable: Boolean,
    private val marginSeconds: Long = 5,
    private val minRefreshMillis: Long = 1_000,
) {
    private val _state = MutableStateFlow<QrScreenState>(QrScreenState.Loading)
    val state: StateFlow<QrScreenState> = _state.asStateFlow()

    var purpose: QrPurpose = QrPurpose.IDENTIFY
        private set

    private var refreshTimer: Cancellable? = null
    private var tickTimer: Cancellable? = null
    private var expiresAtDevice: Long = 0
    private var lockedUntilDevice: Long = 0
    private var running = false

    /** The screen became visible: show a code, or the gate. */
    suspend fun start() {
        running = true
        if (!safely { port.pinIsSet() }.getOrElse { fail(it); return }) {
            _state.value = QrScreenState.ChoosePin()
            return
        }
        refresh()
    }

    /** The screen is hidden: no more timers, nothing on screen. */
    fun stop() {
        running = false
        cancelTimers()
        _state.value = QrScreenState.Loading
    }

    /** Identify (first scan) or settle (second scan): a fresh code at once. */
    suspend fun selectPurpose(newPurpose: QrPurpose) {
        if (newPurpose == purpose) return
        purpose = newPurpose
        if (_state.value is QrScreenState.Showing) refresh()
    }

    /** The member chose a PIN (typed twice). */
    suspend fun choosePin(pin: String, again: String) {
        if (pin != again) {
            _state.value = QrScreenState.ChoosePin(UiText("pin_confirm_mismatch"))
            return
        }
        _state.value = QrScreenState.ChoosePin(busy = true)
        try {
            port.setPin(null, pin)
        } catch (e: CarnetException) {
            _state.value = QrScreenState.ChoosePin(problem(e).message)
            return
        }
        // Choosing the PIN proves presence no more than a screen tap: ask it.
        _state.value = QrScreenState.Locked(biometricAvailable)
    }

    suspend fun unlockWithPin(pin: String) {
        val locked = _state.value as? QrScreenState.Locked ?: return
        if (locked.retryInSeconds != null) return
        _state.value = locked.copy(busy = true, message = null)
        try {
            port.unlock(pin)
        } catch (e: CarnetException.PinLocked) {
            showPinPause(e)
            return
        } catch (e: CarnetException) {
            _state.value = QrScreenState.Locked(biometricAvailable, problem(e).message)
            return
        }
        refresh()
    }

    /** The platform's biometric prompt succeeded (BiometricPrompt / LAContext). */
    suspend fun biometricSucceeded() {
        try {
            port.unlockWithBiometric()
        } catch (e: CarnetException) {
            fail(e)
            return
        }
        refresh()
    }

    /** Fetches and shows the code to show now (also the "try again" action). */
    suspend fun refresh() {
        cancelTimers()
        val previous = _state.value
        val code = try {
            port.currentQr(purpose)
        } catch (e: CarnetException.CredentialLocked) {
            _state.value = QrScreenState.Locked(biometricAvailable)
            return
        } catch (e: CarnetException.NoCredentialPin) {
            _state.value = QrScreenState.ChoosePin()
            return
        } catch (e: CarnetException) {
            // A code still valid stays on screen until it expires; then the error.
            if (previous is QrScreenState.Showing && clock.nowMillis() < expiresAtDevice) {
                _state.value = previous
                scheduleTick()
                refreshTimer = scheduler.schedule(minOf(5_000, expiresAtDevice - clock.nowMillis())) { refresh() }
            } else {
                fail(e)
            }
            return
        }
        if (!running) return
        show(code)
    }

    private fun show(code: QrCode) {
        val arrived = clock.nowMillis()
        val lifetimeMillis = (code.expiresAt - code.issuedAt) * 1000
        expiresAtDevice = arrived + lifetimeMillis
        val refreshAfter = minOf((code.refreshAt - code.issuedAt) * 1000, lifetimeMillis - marginSeconds * 1000)
            .coerceAtLeast(minRefreshMillis)
        _state.value = QrScreenState.Showing(code, secondsLeft(expiresAtDevice))
        refreshTimer = scheduler.schedule(refreshAfter) { if (running) refresh() }
        scheduleTick()
    }

    /** Next countdown step, on the whole second before expiry. */
    private fun scheduleTick() {
        tickTimer?.cancel()
        val remaining = expiresAtDevice - clock.nowMillis()
        if (remaining <= 0) return
        val delay = (remaining % 1000).let { if (it == 0L) 1000L else it }
        tickTimer = scheduler.schedule(delay) {
            val current = _state.value
            if (running && current is QrScreenState.Showing) {
                _state.value = current.copy(secondsLeft = secondsLeft(expiresAtDevice))
                scheduleTick()
            }
        }
    }

    private fun showPinPause(e: CarnetException.PinLocked) {
        val now = clock.nowMillis()
        lockedUntilDevice = maxOf(now + 1000, e.until * 1000)
        _state.value = QrScreenState.Locked(biometricAvailable, problem(e).message, secondsLeft(lockedUntilDevice))
        schedulePauseTick()
    }

    private fun schedulePauseTick() {
        tickTimer?.cancel()
        val remaining = lockedUntilDevice - clock.nowMillis()
        val delay = (remaining % 1000).let { if (it <= 0L) 1000L else it }
        tickTimer = scheduler.schedule(if (remaining <= 0) 0 else delay) {
            val current = _state.value as? QrScreenState.Locked ?: return@schedule
            val left = secondsLeft(lockedUntilDevice)
            if (left <= 0) {
                _state.value = current.copy(message = null, retryInSeconds = null)
            } else {
                _state.value = current.copy(retryInSeconds = left)
                schedulePauseTick()
            }
        }
    }

    private fun secondsLeft(deadline: Long): Int =
        (((deadline - clock.nowMillis()).coerceAtLeast(0) + 999) / 1000).toInt()

    private fun problem(e: Throwable) = ErrorMessages.of(e, clock.nowMillis() / 1000)

    private fun fail(e: Throwable) {
        cancelTimers()
        _state.value = QrScreenState.Failed(problem(e))
    }

    private fun cancelTimers() {
        refreshTimer?.cancel()
        tickTimer?.cancel()
        refreshTimer = null
        tickTimer = null
    }

    private inline fun <T> safely(block: () -> T): Result<T> = try {
        Result.success(block())
    } catch (e: CarnetException) {
        Result.failure(e)
    }
}
