// One background sync (WorkManager on Android, BGTaskScheduler on iOS): token
// use, pharmacy purchases and, once bound, requests. The platform job only
// maps the outcome to its own result (success / retry / failure).
package org.carnet.shell

import org.carnet.core.CarnetException
import org.carnet.core.SyncReport

sealed interface SyncOutcome {
    data class Done(val report: SyncReport?) : SyncOutcome
    /** Try again later with the platform's backoff (offline, server down, rate limited, phone locked). */
    data class RetryLater(val code: String) : SyncOutcome
    /** The member must act (log in, enrol, update): no retry until they do. */
    data class NeedsMember(val problem: Problem) : SyncOutcome
}

/** What the background job needs: the core's sync; the requests sync once bound. */
class BackgroundSync(
    private val sync: suspend () -> SyncReport,
    private val requests: RequestsPort? = null,
    private val clock: Clock = SystemClock,
) {
    suspend fun run(handle: RequestSyncHandle = RequestSyncHandle()): SyncOutcome {
        val report = try {
            sync()
        } catch (e: CarnetException) {
            return outcomeOf(e)
        }
        if (requests != null && !handle.cancelled) {
            try {
                requests.sync(handle) { }
            } catch (e: CarnetException) {
                return outcomeOf(e)
            }
        }
        return SyncOutcome.Done(report)
    }

    private fun outcomeOf(e: CarnetException): SyncOutcome {
        val problem = ErrorMessages.of(e, clock.nowMillis() / 1000)
        return when (problem.recovery) {
            Recovery.RETRY -> SyncOutcome.RetryLater(problem.code)
            Recovery.NONE -> if (problem.code == "tls_failure" || problem.code == "pin_mismatch") {
                // Possibly a hostile network: later, elsewhere, it may work.
                SyncOutcome.RetryLater(problem.code)
            } else {
                SyncOutcome.NeedsMember(problem)
            }
            else -> SyncOutcome.NeedsMember(problem)
        }
    }
}
