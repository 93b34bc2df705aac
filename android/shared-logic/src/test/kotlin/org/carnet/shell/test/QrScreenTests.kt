// The QR screen's timers and gate, with a fake core and manual time.
package org.carnet.shell.test

import org.carnet.testing.*

import org.carnet.core.CarnetException
import org.carnet.core.QrCode
import org.carnet.core.QrPurpose
import org.carnet.shell.QrPort
import org.carnet.shell.QrScreenModel
import org.carnet.shell.QrScreenState
import org.carnet.shell.Recovery
import org.carnet.shell.UiText

/** A core whose answers a test scripts; codes carry server time, not the device's. */
class FakeQrPort(var serverNow: Long = 1_900_000_000) : QrPort {
    var pinSet = true
    var calls = 0
    var lifetime = 60L
    var refreshBeforeExpiry = 15L
    val nextErrors = ArrayDeque<CarnetException>()
    val unlockResults = ArrayDeque<CarnetException?>()
    var biometricUnlocks = 0
    var pinsSet = mutableListOf<String>()

    override fun pinIsSet() = pinSet

    override suspend fun setPin(current: String?, newPin: String) {
        if (newPin == "123456" || newPin.length != 6) throw CarnetException.InvalidPin()
        pinsSet += newPin
        pinSet = true
    }

    override suspend fun unlock(pin: String) {
        unlockResults.removeFirstOrNull()?.let { throw it }
    }

    override fun unlockWithBiometric() {
        biometricUnlocks++
    }

    override suspend fun currentQr(purpose: QrPurpose): QrCode {
        calls++
        nextErrors.removeFirstOrNull()?.let { throw it }
        return QrCode(
            text = "CN1:CODE$calls",
            version = 10u,
            width = 2u,
            modules = byteArrayOf(1, 0, 0, 1),
            purpose = purpose,
            issuedAt = serverNow,
            expiresAt = serverNow + lifetime,
            refreshAt = serverNow + lifetime - refreshBeforeExpiry,
        )
    }
}

private fun QrScreenModel.showing(): QrScreenState.Showing =
    state.value as? QrScreenState.Showing ?: throw TestFailure("not showing a code: ${state.value}")

fun qrScreenTests(harness: Harness) {
    harness.test("qr: the next code comes before expiry and the countdown runs, whatever the device clock says") {
        // The device clock is days off the server's: deadlines still hold.
        val time = ManualTime(5_000_000_000)
        val port = FakeQrPort()
        val model = QrScreenModel(port, time, time, biometricAvailable = true)
        model.start()
        expectEquals(60, model.showing().secondsLeft, "seconds left at first")
        expectEquals("CN1:CODE1", model.showing().code.text, "first code")
        time.advanceBy(10_000)
        expectEquals(50, model.showing().secondsLeft, "after 10 s")
        time.advanceBy(34_999)
        expectEquals(1, port.calls, "no refresh before refresh_at")
        time.advanceBy(1)
        expectEquals(2, port.calls, "refreshed at refresh_at (45 s)")
        expectEquals("CN1:CODE2", model.showing().code.text, "second code")
        expectEquals(60, model.showing().secondsLeft, "a fresh countdown")
        time.advanceBy(45_000 * 10)
        expectEquals(12, port.calls, "a code every 45 s")
    }

    harness.test("qr: without the core's early refresh, the margin still refreshes before expiry") {
        val time = ManualTime(1_000)
        val port = FakeQrPort().apply { refreshBeforeExpiry = 0 }
        val model = QrScreenModel(port, time, time, biometricAvailable = false, marginSeconds = 5)
        model.start()
        time.advanceBy(54_999)
        expectEquals(1, port.calls, "not yet at 54.999 s")
        time.advanceBy(1)
        expectEquals(2, port.calls, "refreshed 5 s before expiry")
    }

    harness.test("qr: a code arriving nearly expired does not spin") {
        val time = ManualTime(1_000)
        val port = FakeQrPort().apply { lifetime = 2; refreshBeforeExpiry = 30 }
        val model = QrScreenModel(port, time, time, biometricAvailable = false)
        model.start()
        time.advanceBy(10_000)
        expect(port.calls in 10..11) { "one fetch a second at most, got ${port.calls} in 10 s" }
    }

    harness.test("qr: the gate asks for the PIN, counts wrong ones and pauses, then shows the code") {
        val time = ManualTime(1_700_000_000_000)
        val port = FakeQrPort()
        port.nextErrors += CarnetException.CredentialLocked()
        val model = QrScreenModel(port, time, time, biometricAvailable = true)
        model.start()
        expectEquals(QrScreenState.Locked(biometricAvailable = true), model.state.value, "locked at first")

        port.unlockResults += CarnetException.WrongPin(4u)
        model.unlockWithPin("000001")
        expectEquals(UiText("error_wrong_pin", 4), (model.state.value as QrScreenState.Locked).message, "attempts left")

        port.unlockResults += CarnetException.PinLocked(time.nowMillis() / 1000 + 120)
        model.unlockWithPin("000002")
        val paused = model.state.value as QrScreenState.Locked
        expectEquals(120, paused.retryInSeconds, "pause countdown")
        expectEquals(UiText("error_pin_locked", 2), paused.message, "pause message in minutes")
        port.unlockResults += null
        model.unlockWithPin("207341")
        expectEquals(1, port.unlockResults.size, "PIN entry disabled during the pause")
        time.advanceBy(60_000)
        expectEquals(60, (model.state.value as QrScreenState.Locked).retryInSeconds, "a minute later")
        time.advanceBy(60_000)
        expectEquals(QrScreenState.Locked(true), model.state.value, "pause over: entry open again")

        model.unlockWithPin("207341")
        expectEquals(60, model.showing().secondsLeft, "unlocked: the code")
    }

    harness.test("qr: the gate closes again after the idle time (the refresh answers credential_locked)") {
        val time = ManualTime(1_000)
        val port = FakeQrPort()
        val model = QrScreenModel(port, time, time, biometricAvailable = true)
        model.start()
        port.nextErrors += CarnetException.CredentialLocked()
        time.advanceBy(45_000)
        expectEquals(QrScreenState.Locked(true), model.state.value, "locked after the refresh")
        expectEquals(0, time.pending, "no timers while locked")
        model.biometricSucceeded()
        expectEquals(1, port.biometricUnlocks, "biometric reported to the core")
        expectEquals("CN1:CODE3", model.showing().code.text, "code after the biometric")
    }

    harness.test("qr: no PIN yet: choose one, typed twice; the core's refusal is shown") {
        val time = ManualTime(1_000)
        val port = FakeQrPort().apply { pinSet = false }
        val model = QrScreenModel(port, time, time, biometricAvailable = false)
        model.start()
        expectEquals(QrScreenState.ChoosePin(), model.state.value, "asks for a PIN")
        model.choosePin("207341", "207314")
        expectEquals(QrScreenState.ChoosePin(UiText("pin_confirm_mismatch")), model.state.value, "typed differently")
        model.choosePin("123456", "123456")
        expectEquals(QrScreenState.ChoosePin(UiText("error_invalid_pin")), model.state.value, "too simple")
        model.choosePin("207341", "207341")
        expectEquals(listOf("207341"), port.pinsSet, "PIN set once")
        expectEquals(QrScreenState.Locked(false), model.state.value, "then asks for it")
    }

    harness.test("qr: a failed refresh keeps a valid code until it expires, then says why") {
        val time = ManualTime(1_000)
        val port = FakeQrPort()
        val model = QrScreenModel(port, time, time, biometricAvailable = false)
        model.start()
        repeat(5) { port.nextErrors += CarnetException.DeviceKeyLocked() }
        time.advanceBy(45_000)
        expectEquals("CN1:CODE1", model.showing().code.text, "the valid code stays")
        time.advanceBy(15_000)
        val failed = model.state.value as? QrScreenState.Failed ?: throw TestFailure("not failed: ${model.state.value}")
        expectEquals("device_key_locked", failed.problem.code, "code")
        expectEquals(UiText("error_device_key_locked"), failed.problem.message, "message")
        expectEquals(Recovery.RETRY, failed.problem.recovery, "recovery")
    }

    harness.test("qr: errors are keyed by the core's codes with what to offer") {
        val time = ManualTime(1_000)
        for ((error, recovery) in listOf(
            CarnetException.NotEnrolled() to Recovery.ENROL,
            CarnetException.CertificateExpired() to Recovery.GO_ONLINE,
            CarnetException.DeviceKeyLost() to Recovery.ENROL,
        )) {
            val port = FakeQrPort().apply { nextErrors += error }
            val model = QrScreenModel(port, time, time, biometricAvailable = false)
            model.start()
            val failed = model.state.value as QrScreenState.Failed
            expectEquals("error_${failed.problem.code}", failed.problem.message.key, "key of ${failed.problem.code}")
            expectEquals(recovery, failed.problem.recovery, "recovery of ${failed.problem.code}")
        }
    }

    harness.test("qr: leaving the screen stops every timer; settle asks a fresh code at once") {
        val time = ManualTime(1_000)
        val port = FakeQrPort()
        val model = QrScreenModel(port, time, time, biometricAvailable = false)
        model.start()
        model.selectPurpose(QrPurpose.SETTLE)
        expectEquals(2, port.calls, "a settle code at once")
        expectEquals(QrPurpose.SETTLE, model.showing().code.purpose, "purpose")
        model.stop()
        expectEquals(0, time.pending, "no timers left")
        time.advanceBy(600_000)
        expectEquals(2, port.calls, "nothing fetched after stop")
        expectEquals(QrScreenState.Loading, model.state.value, "nothing on screen")
    }
}
