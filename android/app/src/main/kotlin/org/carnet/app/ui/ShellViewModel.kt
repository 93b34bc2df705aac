// Holds the shared-logic models for the activity's life (rotation included)
// on viewModelScope; one Session per open Carnet handle.
package org.carnet.app.ui

import android.app.Application
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.setValue
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.launch
import org.carnet.app.CarnetApplication
import org.carnet.core.CarnetException
import org.carnet.shell.AccountScreenModel
import org.carnet.shell.CarnetPorts
import org.carnet.shell.CoroutineScheduler
import org.carnet.shell.ErrorMessages
import org.carnet.shell.Problem
import org.carnet.shell.QrScreenModel
import org.carnet.shell.RequestsListModel
import org.carnet.shell.CarnetRequestsPort
import org.carnet.shell.RequestsPort
import org.carnet.shell.SignInModel
import org.carnet.shell.SystemClock
import org.carnet.shell.TokenScreenModel

class Session(ports: CarnetPorts, val requestsPort: RequestsPort, app: CarnetApplication, scheduler: CoroutineScheduler) {
    val signIn = SignInModel(ports, SystemClock, app.deviceName).apply { start() }
    val qr = QrScreenModel(
        ports, SystemClock, scheduler,
        biometricAvailable = BiometricManager.from(app).canAuthenticate(BIOMETRIC_STRONG) == BiometricManager.BIOMETRIC_SUCCESS,
    )
    val tokens = TokenScreenModel(ports, SystemClock)
    val account = AccountScreenModel(ports, SystemClock)
    val requests = RequestsListModel(requestsPort)
}

class ShellViewModel(application: Application) : AndroidViewModel(application) {
    private val app = application as CarnetApplication
    private val scheduler = CoroutineScheduler(viewModelScope)
    var session by mutableStateOf<Session?>(null)
        private set
    var openProblem by mutableStateOf<Problem?>(null)
        private set

    init {
        open()
    }

    fun open() = launch {
        openProblem = null
        try {
            session = Session(app.ports(), CarnetRequestsPort(app.carnet()), app, scheduler)
        } catch (e: CarnetException) {
            openProblem = ErrorMessages.of(e, System.currentTimeMillis() / 1000)
        }
    }

    /** After logout: close the handle, then a fresh vault and sign-in. */
    fun loggedOut() = launch {
        session = null
        app.closed()
        open()
    }

    fun launch(block: suspend () -> Unit) = viewModelScope.launch { block() }

    val scheduling: CoroutineScheduler get() = scheduler
}
