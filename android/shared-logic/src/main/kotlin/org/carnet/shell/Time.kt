// Time for the screen logic: a clock and a scheduler that the app backs
// with the system and a coroutine scope, and the tests with ManualTime.
package org.carnet.shell

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch

/** Wall-clock time of this device, in milliseconds since the Unix epoch. */
fun interface Clock {
    fun nowMillis(): Long
}

/** Something scheduled that can be called off. */
fun interface Cancellable {
    fun cancel()
}

/** Runs work later. Each screen model cancels what it scheduled when it stops. */
interface Scheduler {
    /** Runs [action] once, [delayMillis] from now (at once if not positive). */
    fun schedule(delayMillis: Long, action: suspend () -> Unit): Cancellable
}

object SystemClock : Clock {
    override fun nowMillis(): Long = System.currentTimeMillis()
}

/** A scheduler on a coroutine scope (Android: viewModelScope; iOS mirrors it with Task.sleep). */
class CoroutineScheduler(private val scope: CoroutineScope) : Scheduler {
    override fun schedule(delayMillis: Long, action: suspend () -> Unit): Cancellable {
        val job: Job = scope.launch {
            if (delayMillis > 0) delay(delayMillis)
            action()
        }
        return Cancellable { job.cancel() }
    }
}
