// What the screens say, as string keys with arguments: the same keys name
// android/app/src/main/res/values*/strings.xml entries and
// ios/App/Resources/*.lproj/Localizable.strings entries, so both shells
// localise one vocabulary. Errors are keyed by the core's stable codes.
package org.carnet.shell

import org.carnet.core.CarnetException
import org.carnet.core.RegistrationField

/** A message to show: a string key and its format arguments, in order. */
data class UiText(val key: String, val args: List<Any> = emptyList()) {
    constructor(key: String, vararg args: Any) : this(key, args.toList())
}

/** What a screen can offer the member to get out of an error. */
enum class Recovery {
    /** Nothing to do but read the message (or try again). */
    NONE,
    /** Try the same thing again (now or a little later). */
    RETRY,
    /** Log in again. */
    LOG_IN,
    /** Enrol this device (again). */
    ENROL,
    /** Choose a credential PIN. */
    CHOOSE_PIN,
    /** Go online so that the app can renew what expired. */
    GO_ONLINE,
    /** Update the app. */
    UPDATE_APP,
}

/** The member-facing form of a failure: message, stable code, what to offer. */
data class Problem(val code: String, val message: UiText, val recovery: Recovery)

object ErrorMessages {
    /** The stable code of any failure a core call can throw. */
    fun codeOf(error: Throwable): String = when (error) {
        is CarnetException -> error.code()
        else -> "unexpected"
    }

    /**
     * The message for [error]: `error_<code>`, with arguments where the
     * error carries numbers the member needs. [nowSeconds] turns instants
     * into waits.
     */
    fun of(error: Throwable, nowSeconds: Long): Problem {
        val code = codeOf(error)
        val message = when (error) {
            is CarnetException.WrongPin -> UiText("error_wrong_pin", error.attemptsLeft.toInt())
            is CarnetException.PinLocked -> UiText("error_pin_locked", minutesUntil(error.until, nowSeconds))
            is CarnetException.RateLimited -> error.retryAfterSeconds?.let {
                UiText("error_rate_limited", it.toLong().coerceAtMost(Int.MAX_VALUE.toLong()).toInt())
            } ?: UiText("error_rate_limited_later")
            is CarnetException.TokenLimitReached ->
                UiText("error_token_limit_reached", minutesUntil(error.availableAt, nowSeconds))
            else -> UiText("error_$code")
        }
        return Problem(code, message, recoveryFor(code))
    }

    fun recoveryFor(code: String): Recovery = when (code) {
        "not_logged_in", "session_expired", "closed" -> Recovery.LOG_IN
        "not_enrolled", "device_key_lost" -> Recovery.ENROL
        "no_credential_pin" -> Recovery.CHOOSE_PIN
        "certificate_expired", "no_token_secret" -> Recovery.GO_ONLINE
        "vault_too_new" -> Recovery.UPDATE_APP
        "offline", "server_unavailable", "rate_limited", "vault_locked", "device_key_locked",
        "vault_in_use", "storage_failure" -> Recovery.RETRY
        else -> Recovery.NONE
    }

    /** Whole minutes until [untilSeconds], at least 1. */
    fun minutesUntil(untilSeconds: Long, nowSeconds: Long): Int =
        (((untilSeconds - nowSeconds).coerceAtLeast(1) + 59) / 60).toInt()

    /** The message under a registration field the core refused. */
    fun registrationField(field: RegistrationField): UiText =
        UiText("field_${field.name.lowercase()}_invalid")
}
