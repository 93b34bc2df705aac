// Sign-in until this device is enrolled, then four tabs.
import Carnet
import SwiftUI

struct RootView: View {
    @EnvironmentObject private var app: AppModel

    var body: some View {
        if let carnet = app.carnet {
            SessionView(carnet: carnet)
                .id(ObjectIdentifier(carnet))
        } else if let error = app.openError {
            VStack(spacing: 16) {
                Text(tr(error))
                Button(tr("action_retry")) { Task { await app.open() } }
            }
            .padding()
        } else {
            ProgressView()
        }
    }
}

struct SessionView: View {
    @EnvironmentObject private var app: AppModel
    @StateObject private var signIn: SignInModel
    private let carnet: Carnet

    init(carnet: Carnet) {
        self.carnet = carnet
        _signIn = StateObject(wrappedValue: SignInModel(carnet: carnet, deviceName: UIDevice.current.name))
    }

    var body: some View {
        if signIn.step != .done {
            SignInView(model: signIn)
        } else {
            TabView {
                QrView(model: QrScreenModel(carnet: carnet, biometricAvailable: app.biometricAvailable))
                    .tabItem { Label(tr("nav_qr"), systemImage: "qrcode") }
                TokenView(model: TokenScreenModel(carnet: carnet))
                    .tabItem { Label(tr("nav_tokens"), systemImage: "number") }
                RequestsView(model: RequestsListModel(port: CarnetRequestsPort(carnet: carnet)))
                    .tabItem { Label(tr("nav_requests"), systemImage: "tray.full") }
                AccountView(model: AccountModel(carnet: carnet))
                    .tabItem { Label(tr("nav_account"), systemImage: "person") }
            }
        }
    }
}
