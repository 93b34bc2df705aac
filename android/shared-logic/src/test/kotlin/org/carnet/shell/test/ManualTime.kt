// A clock and scheduler that move only when a test says so.
package org.carnet.shell.test

import org.carnet.testing.*

import org.carnet.shell.Cancellable
import org.carnet.shell.Clock
import org.carnet.shell.Scheduler

class ManualTime(private var now: Long) : Clock, Scheduler {
    private class Task(val due: Long, val order: Long, val action: suspend () -> Unit) {
        var cancelled = false
    }

    private val tasks = mutableListOf<Task>()
    private var counter = 0L

    override fun nowMillis(): Long = now

    override fun schedule(delayMillis: Long, action: suspend () -> Unit): Cancellable {
        val task = Task(now + delayMillis.coerceAtLeast(0), counter++, action)
        tasks += task
        return Cancellable { task.cancelled = true }
    }

    /** Tasks still waiting. */
    val pending: Int get() = tasks.count { !it.cancelled }

    /** Moves the clock forward by [millis], running what falls due, in order, at its time. */
    suspend fun advanceBy(millis: Long) {
        val target = now + millis
        while (true) {
            tasks.removeAll { it.cancelled }
            val next = tasks.filter { it.due <= target }.minWithOrNull(compareBy({ it.due }, { it.order })) ?: break
            tasks.remove(next)
            now = maxOf(now, next.due)
            next.action()
        }
        now = target
    }

    /** Runs what is due now. */
    suspend fun runDue() = advanceBy(0)
}
