// A tiny test runner on a plain JVM (no JUnit launcher offline), shared by
// the bindings' tests (bindings/tests/kotlin, scripts/kotlin-test.sh) and
// the shells' logic tests (android/shared-logic/src/test,
// scripts/shells-check.sh). Each test prints `ok NAME`, `skipped NAME: why`
// or `FAILED NAME: why`; the last line is exactly `N passed, M failed` (with
// `, K skipped` when any was), which the scripts read, and the exit status
// is non-zero when any test failed.
package org.carnet.testing

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

class TestFailure(message: String) : AssertionError(message)

class Skipped(message: String) : Exception(message)

class Harness {
    private val tests = mutableListOf<Pair<String, suspend () -> Unit>>()

    fun test(name: String, body: suspend () -> Unit) {
        tests += name to body
    }

    /** Runs every test in order; returns the number that failed. */
    fun run(): Int {
        var passed = 0
        var failed = 0
        var skipped = 0
        for ((name, body) in tests) {
            val started = System.nanoTime()
            val failure: Throwable? = try {
                runBlocking { withTimeout(120_000) { body() } }
                null
            } catch (e: Throwable) {
                e
            }
            val ms = (System.nanoTime() - started) / 1_000_000
            when (failure) {
                null -> {
                    passed++
                    println("ok $name (${ms} ms)")
                }
                is Skipped -> {
                    skipped++
                    println("skipped $name: ${failure.message}")
                }
                else -> {
                    failed++
                    println("FAILED $name (${ms} ms): ${failure::class.qualifiedName}: ${failure.message}")
                    failure.printStackTrace(System.out)
                }
            }
        }
        println(if (skipped == 0) "$passed passed, $failed failed" else "$passed passed, $failed failed, $skipped skipped")
        return failed
    }
}

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw TestFailure(message())
}

fun <T> expectEquals(expected: T, actual: T, what: String) {
    if (expected != actual) throw TestFailure("$what: expected <$expected>, got <$actual>")
}

/** Runs [block], which must throw an [E]; returns it. */
suspend inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw TestFailure("$what: expected ${E::class.simpleName}, got ${e::class.qualifiedName}: ${e.message}")
    }
    throw TestFailure("$what: expected ${E::class.simpleName}, nothing was thrown")
}
