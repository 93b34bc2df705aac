// The pharmacy QR: brightness up while a code shows, PIN or Face ID / Touch
// ID gate, countdown; timing is QrScreenModel's.
import Carnet
import LocalAuthentication
import SwiftUI
import UIKit

struct QrView: View {
    @StateObject var model: QrScreenModel
    @State private var pin = ""
    @State private var again = ""
    @State private var savedBrightness: CGFloat?
    @Environment(\.scenePhase) private var scenePhase

    var body: some View {
        VStack(spacing: 16) {
            Text(tr("qr_title")).font(.title2)
            switch model.state {
            case .loading:
                ProgressView()
            case .choosePin(let message):
                Text(tr("qr_choose_pin"))
                SecureField("", text: $pin).keyboardType(.numberPad)
                Text(tr("qr_pin_again"))
                SecureField("", text: $again).keyboardType(.numberPad)
                if let message { Text(tr(message)).foregroundColor(.red) }
                Button(tr("action_choose_pin")) { Task { await model.choosePin(pin, again: again); pin = ""; again = "" } }
                    .disabled(pin.count != 6 || again.count != 6)
            case .locked(let message, let retryIn):
                Text(tr("qr_enter_pin"))
                SecureField("", text: $pin).keyboardType(.numberPad)
                if let message { Text(tr(message)).foregroundColor(.red) }
                if let retryIn { Text(tr("qr_retry_in", retryIn)) }
                Button(tr("action_unlock")) { Task { await model.unlock(pin: pin); pin = "" } }
                    .disabled(pin.count != 6 || retryIn != nil)
                if model.biometricAvailable {
                    Button(tr("action_use_biometric")) { askBiometric() }
                }
            case .showing(let code, let secondsLeft):
                Picker("", selection: Binding(get: { model.purpose }, set: { p in Task { await model.select(p) } })) {
                    Text(tr("qr_purpose_identify")).tag(QrPurpose.identify)
                    Text(tr("qr_purpose_settle")).tag(QrPurpose.settle)
                }
                .pickerStyle(.segmented)
                QrImage(code: code).aspectRatio(1, contentMode: .fit)
                Text(tr("qr_seconds_left", secondsLeft))
            case .failed(let message, let recovery):
                Text(tr(message)).foregroundColor(.red)
                if recovery == .retry || recovery == .none {
                    Button(tr("action_retry")) { Task { await model.refresh() } }
                }
            }
        }
        .padding()
        .task { await model.start() }
        .onDisappear { model.stop(); restoreBrightness() }
        .onChange(of: scenePhase) { phase in
            if phase == .active { Task { await model.start() } } else { model.stop(); restoreBrightness() }
        }
        .onChange(of: model.state) { state in
            if case .showing = state { raiseBrightness() } else { restoreBrightness() }
        }
    }

    private func raiseBrightness() {
        guard savedBrightness == nil else { return }
        savedBrightness = UIScreen.main.brightness
        UIScreen.main.brightness = 1.0
        UIApplication.shared.isIdleTimerDisabled = true
    }

    private func restoreBrightness() {
        guard let saved = savedBrightness else { return }
        UIScreen.main.brightness = saved
        savedBrightness = nil
        UIApplication.shared.isIdleTimerDisabled = false
    }

    private func askBiometric() {
        let context = LAContext()
        context.localizedCancelTitle = tr("action_cancel")
        context.evaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, localizedReason: tr("biometric_prompt_subtitle")) { ok, _ in
            if ok { Task { @MainActor in await model.biometricSucceeded() } }
        }
    }
}

/// The modules, dark on white, with the 4-module quiet zone; never mirrored for right-to-left.
struct QrImage: View {
    let code: QrCode

    var body: some View {
        Canvas { context, size in
            let width = Int(code.width)
            let cell = size.width / CGFloat(width + 8)
            context.fill(Path(CGRect(origin: .zero, size: size)), with: .color(.white))
            let modules = [UInt8](code.modules)
            for y in 0..<width {
                for x in 0..<width where modules[y * width + x] == 1 {
                    let rect = CGRect(x: CGFloat(x + 4) * cell, y: CGFloat(y + 4) * cell, width: cell + 0.5, height: cell + 0.5)
                    context.fill(Path(rect), with: .color(.black))
                }
            }
        }
        .environment(\.layoutDirection, .leftToRight)
    }
}
