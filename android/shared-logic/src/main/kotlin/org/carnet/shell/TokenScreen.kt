// The consult-token screen: make a token (online from the insurer, or on the
// phone when there is no network), the history with statuses, and a sync
// that brings in which tokens providers used.
package org.carnet.shell

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.carnet.core.CarnetException
import org.carnet.core.ConsultToken
import org.carnet.core.SyncReport
import org.carnet.core.TokenStatus

interface TokenPort {
    suspend fun requestToken(practice: String?): ConsultToken
    suspend fun offlineToken(practice: String?): ConsultToken
    fun tokens(): List<ConsultToken>
    suspend fun reEnableTokens()
    suspend fun sync(): SyncReport
}

/** One line of the history, ready to draw. */
data class TokenRow(
    val code: String,
    val practice: String?,
    val offline: Boolean,
    val status: UiText,
    val active: Boolean,
    /** Whole hours (rounded up) until it expires, for active tokens. */
    val hoursLeft: Int?,
)

data class TokenScreenState(
    val practice: String = "",
    val rows: List<TokenRow> = emptyList(),
    /** The token just made, shown large. */
    val latest: ConsultToken? = null,
    val busy: Boolean = false,
    val message: UiText? = null,
    /** Tokens are disabled after 100 wrong codes: offer to re-enable. */
    val disabled: Boolean = false,
)

class TokenScreenModel(private val port: TokenPort, private val clock: Clock) {
    private val _state = MutableStateFlow(TokenScreenState())
    val state: StateFlow<TokenScreenState> = _state.asStateFlow()

    fun setPractice(text: String) {
        _state.value = _state.value.copy(practice = text.take(MAX_PRACTICE))
    }

    /** Reads the history from the vault (no network). */
    fun load() {
        try {
            _state.value = _state.value.copy(rows = rows(port.tokens()))
        } catch (e: CarnetException) {
            _state.value = _state.value.copy(message = problem(e).message)
        }
    }

    /**
     * A token for the practice typed (none: any). Online first; when the
     * insurer cannot be reached, one made on the phone, which the provider
     * accepts the same way.
     */
    suspend fun makeToken() {
        val practice = _state.value.practice.trim().ifEmpty { null }
        _state.value = _state.value.copy(busy = true, message = null)
        val made = try {
            port.requestToken(practice)
        } catch (e: CarnetException) {
            if (e is CarnetException.Offline || e is CarnetException.ServerUnavailable) {
                try {
                    port.offlineToken(practice)
                } catch (offline: CarnetException) {
                    return failed(offline)
                }
            } else {
                return failed(e)
            }
        }
        _state.value = _state.value.copy(
            busy = false,
            latest = made,
            practice = "",
            message = if (made.offline) UiText("token_made_offline") else null,
        )
        load()
    }

    suspend fun sync() {
        _state.value = _state.value.copy(busy = true, message = null)
        try {
            val report = port.sync()
            _state.value = _state.value.copy(
                busy = false,
                disabled = report.tokensDisabled,
                message = if (report.tokensUsed > 0u) UiText("tokens_used_since", report.tokensUsed.toInt()) else null,
            )
        } catch (e: CarnetException) {
            failed(e)
        }
        load()
    }

    suspend fun reEnable() {
        _state.value = _state.value.copy(busy = true, message = null)
        try {
            port.reEnableTokens()
            _state.value = _state.value.copy(busy = false, disabled = false)
        } catch (e: CarnetException) {
            failed(e)
        }
    }

    private fun failed(e: CarnetException) {
        _state.value = _state.value.copy(busy = false, message = problem(e).message)
    }

    private fun problem(e: Throwable) = ErrorMessages.of(e, clock.nowMillis() / 1000)

    private fun rows(tokens: List<ConsultToken>): List<TokenRow> {
        val now = clock.nowMillis() / 1000
        return tokens.map { token ->
            val status = token.status
            val expired = status is TokenStatus.Expired || (status is TokenStatus.Active && token.expiresAt <= now)
            TokenRow(
                code = token.code,
                practice = token.practice,
                offline = token.offline,
                status = when {
                    status is TokenStatus.Used -> UiText("token_status_used", status.practice)
                    expired -> UiText("token_status_expired")
                    else -> UiText("token_status_active")
                },
                active = status is TokenStatus.Active && !expired,
                hoursLeft = if (status is TokenStatus.Active && !expired) {
                    (((token.expiresAt - now) + 3599) / 3600).toInt()
                } else {
                    null
                },
            )
        }
    }

    companion object {
        const val MAX_PRACTICE = 80
    }
}
