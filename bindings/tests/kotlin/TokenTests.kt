// Consult tokens through the generated bindings: online from the insurer,
// offline from the per-device secret agreed at enrolment, the local history
// with statuses, and a sync.
package org.carnet.tests

import org.carnet.testing.*

import org.carnet.core.Carnet
import org.carnet.core.TokenStatus

fun tokenTests(harness: Harness) {
    harness.test("online and offline consult tokens are made, listed and synced") {
        val username = confirmedMember()
        Carnet.openWithPassphrase(config(newDir()), PASSPHRASE).use { carnet ->
            carnet.login(username, PASSWORD)
            carnet.enrolDevice("Kotlin phone")

            val online = carnet.requestToken("consulta clínica")
            expect(Regex("\\d{6}").matches(online.code)) { "six digits: ${online.code.length} chars" }
            expect(!online.offline) { "an online token" }
            expectEquals(12L * 3600, online.expiresAt - online.madeAt, "online lifetime")
            expectEquals(TokenStatus.Active, online.status, "online status")

            val offline = carnet.offlineToken(null)
            expect(Regex("\\d{6}").matches(offline.code)) { "six digits offline" }
            expect(offline.offline) { "an offline token" }
            val lifetime = offline.expiresAt - offline.madeAt
            expect(lifetime in (12L * 3600)..(13L * 3600)) { "offline lifetime $lifetime s" }

            val second = carnet.offlineToken("radiografía")
            expect(second.code != offline.code || second.madeAt != offline.madeAt) { "a new token" }

            val history = carnet.tokens()
            expectEquals(3, history.size, "history size")
            expect(history.all { it.status == TokenStatus.Active }) { "all active" }

            val report = carnet.sync()
            expectEquals(0u, report.tokensUsed, "nothing redeemed yet")
            expect(!report.tokensDisabled) { "tokens enabled" }
            expectEquals(0, carnet.transactions().size, "no transactions yet")
        }
    }
}
