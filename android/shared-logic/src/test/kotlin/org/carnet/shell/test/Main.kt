// Runs every shared-logic test; see Harness.kt for the output format.
package org.carnet.shell.test

import org.carnet.testing.*

import kotlin.system.exitProcess

fun main() {
    val harness = Harness()
    qrScreenTests(harness)
    formTests(harness)
    unitTests(harness)
    liveTests(harness)
    val failed = harness.run()
    cleanUpLive()
    exitProcess(if (failed == 0) 0 else 1)
}
