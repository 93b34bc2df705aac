// The SwiftUI shell: opens the one Carnet handle with the Keychain and the
// Secure Enclave, registers the BGTaskScheduler sync, and covers the window
// whenever the app is not active (app switcher snapshot, screen capture).
import BackgroundTasks
import Carnet
import LocalAuthentication
import SwiftUI
import UIKit

@main
struct CarnetApp: App {
    @StateObject private var model = AppModel()
    @Environment(\.scenePhase) private var scenePhase

    init() {
        BackgroundSyncTask.register()
    }

    var body: some Scene {
        WindowGroup {
            ZStack {
                RootView().environmentObject(model)
                // The app switcher snapshots the window when it leaves .active:
                // cover everything first (health data on every screen).
                if scenePhase != .active || model.screenCaptured {
                    PrivacyCover()
                }
            }
            .task { await model.open() }
        }
        .onChange(of: scenePhase) { phase in
            if phase == .background { BackgroundSyncTask.schedule() }
        }
    }
}

struct PrivacyCover: View {
    var body: some View {
        ZStack {
            Color(uiColor: .systemBackground).ignoresSafeArea()
            Text(tr("privacy_cover")).padding()
        }
    }
}

@MainActor
final class AppModel: ObservableObject {
    @Published private(set) var carnet: Carnet?
    @Published private(set) var openError: UiText?
    @Published private(set) var screenCaptured = UIScreen.main.isCaptured
    let keyStore = KeychainKeyStore()
    let signer = SecureEnclaveSigner()
    private var captureObserver: NSObjectProtocol?

    init() {
        // Screen recording or mirroring: hide the content (iOS cannot block screenshots; the QR
        // screen's codes live 60 s and are bound to this device's key).
        captureObserver = NotificationCenter.default.addObserver(
            forName: UIScreen.capturedDidChangeNotification, object: nil, queue: .main
        ) { [weak self] _ in
            Task { @MainActor in self?.screenCaptured = UIScreen.main.isCaptured }
        }
    }

    func open() async {
        guard carnet == nil else { return }
        do {
            let handle = try await Carnet.openWithKeyStore(config: Self.config(), keyStore: keyStore, deviceSigner: signer)
            Self.excludeFromBackup(handle.vaultLocation())
            carnet = handle
            openError = nil
        } catch {
            openError = ErrorMessages.message(error)
        }
    }

    func loggedOut() async {
        carnet = nil
        signer.delete()
        keyStore.delete()
        await open()
    }

    var biometricAvailable: Bool {
        LAContext().canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: nil)
    }

    static func config() throws -> CarnetConfig {
        let support = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let caPem = Bundle.main.url(forResource: "insurer-ca", withExtension: "pem").flatMap { try? String(contentsOf: $0) }
        let server = Bundle.main.object(forInfoDictionaryKey: "CarnetServerURL") as? String ?? "https://localhost:8443"
        return CarnetConfig(
            dataDir: support.appendingPathComponent("carnet", isDirectory: true).path,
            serverUrl: server,
            rootCaPem: caPem,
            usePublicRoots: caPem == nil,
            spkiPins: []
        )
    }

    /// The vault is bound to this device's keys: never in iCloud or iTunes backups.
    static func excludeFromBackup(_ location: String?) {
        guard let location else { return }
        var url = URL(fileURLWithPath: location, isDirectory: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try? url.setResourceValues(values)
    }
}

/// BGTaskScheduler: an app refresh about hourly; the outcome rules are BackgroundSync's.
enum BackgroundSyncTask {
    static let identifier = "org.carnet.app.sync"

    static func register() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            guard let refresh = task as? BGAppRefreshTask else { return }
            schedule()
            let work = Task {
                // The Keychain item is WhenUnlocked: while locked the vault stays shut (VaultLocked).
                guard let carnet = try? await Carnet.openWithKeyStore(
                    config: AppModel.config(), keyStore: KeychainKeyStore(), deviceSigner: SecureEnclaveSigner()
                ) else {
                    refresh.setTaskCompleted(success: false)
                    return
                }
                let outcome = await BackgroundSync.run(carnet)
                refresh.setTaskCompleted(success: outcome == .done)
            }
            refresh.expirationHandler = { work.cancel() }
        }
    }

    static func schedule() {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 3600)
        try? BGTaskScheduler.shared.submit(request)
    }
}
