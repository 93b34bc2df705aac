// The screen logic for SwiftUI. It mirrors, rule for rule, the Kotlin
// shared logic (android/shared-logic), which is the tested reference (its
// tests run on the JVM against the real core): the same string keys, the
// same error mapping by the core's stable codes, the same QR timing.
import Foundation

/// A message: a Localizable.strings key and its format arguments.
public struct UiText: Equatable {
    public let key: String
    public let args: [Int64]
    public let text: String?

    public init(_ key: String, _ args: Int64..., text: String? = nil) {
        self.key = key
        self.args = args
        self.text = text
    }
}

public enum Recovery {
    case none, retry, logIn, enrol, choosePin, goOnline, updateApp
}

public enum ErrorMessages {
    public static func code(_ error: Error) -> String {
        (error as? CarnetError)?.code() ?? "unexpected"
    }

    public static func message(_ error: Error, now: Date = Date()) -> UiText {
        let seconds = Int64(now.timeIntervalSince1970)
        switch error as? CarnetError {
        case .WrongPin(let attemptsLeft)?:
            return UiText("error_wrong_pin", Int64(attemptsLeft))
        case .PinLocked(let until)?:
            return UiText("error_pin_locked", minutes(until: until, now: seconds))
        case .RateLimited(let retryAfterSeconds)?:
            if let wait = retryAfterSeconds { return UiText("error_rate_limited", Int64(clamping: wait)) }
            return UiText("error_rate_limited_later")
        case .TokenLimitReached(let availableAt)?:
            return UiText("error_token_limit_reached", minutes(until: availableAt, now: seconds))
        default:
            return UiText("error_" + code(error))
        }
    }

    public static func recovery(_ code: String) -> Recovery {
        switch code {
        case "not_logged_in", "session_expired", "closed": return .logIn
        case "not_enrolled", "device_key_lost": return .enrol
        case "no_credential_pin": return .choosePin
        case "certificate_expired", "no_token_secret": return .goOnline
        case "vault_too_new": return .updateApp
        case "offline", "server_unavailable", "rate_limited", "vault_locked", "device_key_locked", "vault_in_use", "storage_failure":
            return .retry
        default: return .none
        }
    }

    static func minutes(until: Int64, now: Int64) -> Int64 {
        (max(until - now, 1) + 59) / 60
    }

    public static func registrationField(_ field: RegistrationField) -> UiText {
        switch field {
        case .affiliateNumber: return UiText("field_affiliate_number_invalid")
        case .cardNumber: return UiText("field_card_number_invalid")
        case .birthDate: return UiText("field_birth_date_invalid")
        case .username: return UiText("field_username_invalid")
        case .password: return UiText("field_password_invalid")
        case .email: return UiText("field_email_invalid")
        }
    }
}

// MARK: - QR screen

public enum QrScreenState: Equatable {
    case loading
    case choosePin(message: UiText?)
    case locked(message: UiText?, retryInSeconds: Int?)
    case showing(code: QrCode, secondsLeft: Int)
    case failed(message: UiText, recovery: Recovery)
}

/// QrScreenModel.kt in Swift: deadlines counted on this device's clock from
/// the moment the code arrived (its instants are server-corrected); the next
/// code is fetched `min(refresh_at, expires_at - margin)` after issue, never
/// sooner than a second.
@MainActor
public final class QrScreenModel: ObservableObject {
    @Published public private(set) var state: QrScreenState = .loading
    @Published public private(set) var purpose: QrPurpose = .identify
    public let biometricAvailable: Bool
    private let carnet: Carnet
    private let marginSeconds: Double = 5
    private var refreshTask: Task<Void, Never>?
    private var tickTask: Task<Void, Never>?
    private var expiresAt = Date.distantPast
    private var running = false

    public init(carnet: Carnet, biometricAvailable: Bool) {
        self.carnet = carnet
        self.biometricAvailable = biometricAvailable
    }

    public func start() async {
        running = true
        do {
            if try !carnet.credentialPinIsSet() {
                state = .choosePin(message: nil)
                return
            }
        } catch {
            fail(error)
            return
        }
        await refresh()
    }

    public func stop() {
        running = false
        cancelTimers()
        state = .loading
    }

    public func select(_ newPurpose: QrPurpose) async {
        guard newPurpose != purpose else { return }
        purpose = newPurpose
        if case .showing = state { await refresh() }
    }

    public func choosePin(_ pin: String, again: String) async {
        guard pin == again else {
            state = .choosePin(message: UiText("pin_confirm_mismatch"))
            return
        }
        do {
            try await carnet.setCredentialPin(current: nil, newPin: pin)
            state = .locked(message: nil, retryInSeconds: nil)
        } catch {
            state = .choosePin(message: ErrorMessages.message(error))
        }
    }

    public func unlock(pin: String) async {
        do {
            try await carnet.unlockCredential(pin: pin)
        } catch CarnetError.PinLocked(let until) {
            let wait = max(1, Int(Double(until) - Date().timeIntervalSince1970))
            state = .locked(message: ErrorMessages.message(CarnetError.PinLocked(until: until)), retryInSeconds: wait)
            tickTask = Task { [weak self] in
                for left in stride(from: wait - 1, through: 0, by: -1) {
                    try? await Task.sleep(nanoseconds: 1_000_000_000)
                    guard let self, !Task.isCancelled else { return }
                    self.state = .locked(message: left > 0 ? self.lockedMessage : nil, retryInSeconds: left > 0 ? left : nil)
                }
            }
            return
        } catch {
            state = .locked(message: ErrorMessages.message(error), retryInSeconds: nil)
            return
        }
        await refresh()
    }

    private var lockedMessage: UiText? {
        if case .locked(let message, _) = state { return message }
        return nil
    }

    /// After LAContext.evaluatePolicy succeeded.
    public func biometricSucceeded() async {
        do {
            try carnet.unlockCredentialWithBiometric()
        } catch {
            fail(error)
            return
        }
        await refresh()
    }

    public func refresh() async {
        cancelTimers()
        let previous = state
        do {
            let code = try await carnet.currentQr(purpose: purpose)
            guard running else { return }
            show(code)
        } catch CarnetError.CredentialLocked {
            state = .locked(message: nil, retryInSeconds: nil)
        } catch CarnetError.NoCredentialPin {
            state = .choosePin(message: nil)
        } catch {
            if case .showing = previous, Date() < expiresAt {
                state = previous
                schedule(after: min(5, expiresAt.timeIntervalSinceNow)) { await $0.refresh() }
                startTicks()
            } else {
                fail(error)
            }
        }
    }

    private func show(_ code: QrCode) {
        let arrived = Date()
        let lifetime = Double(code.expiresAt - code.issuedAt)
        expiresAt = arrived.addingTimeInterval(lifetime)
        let refreshAfter = max(1, min(Double(code.refreshAt - code.issuedAt), lifetime - marginSeconds))
        state = .showing(code: code, secondsLeft: secondsLeft())
        schedule(after: refreshAfter) { await $0.refresh() }
        startTicks()
    }

    private func startTicks() {
        tickTask?.cancel()
        tickTask = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let remainder = self.expiresAt.timeIntervalSinceNow.truncatingRemainder(dividingBy: 1)
                try? await Task.sleep(nanoseconds: UInt64(max(remainder, 0.05) * 1_000_000_000))
                guard !Task.isCancelled, case .showing(let code, _) = self.state else { return }
                self.state = .showing(code: code, secondsLeft: self.secondsLeft())
                if self.secondsLeft() == 0 { return }
            }
        }
    }

    private func schedule(after seconds: Double, _ action: @escaping (QrScreenModel) async -> Void) {
        refreshTask = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(seconds, 0) * 1_000_000_000))
            guard let self, !Task.isCancelled, self.running else { return }
            await action(self)
        }
    }

    private func secondsLeft() -> Int {
        Int(max(0, expiresAt.timeIntervalSinceNow).rounded(.up))
    }

    private func fail(_ error: Error) {
        cancelTimers()
        state = .failed(message: ErrorMessages.message(error), recovery: ErrorMessages.recovery(ErrorMessages.code(error)))
    }

    private func cancelTimers() {
        refreshTask?.cancel()
        tickTask?.cancel()
        refreshTask = nil
        tickTask = nil
    }
}

// MARK: - Tokens

@MainActor
public final class TokenScreenModel: ObservableObject {
    @Published public var practice = ""
    @Published public private(set) var tokens: [ConsultToken] = []
    @Published public private(set) var latest: ConsultToken?
    @Published public private(set) var busy = false
    @Published public private(set) var message: UiText?
    @Published public private(set) var disabled = false
    private let carnet: Carnet

    public init(carnet: Carnet) {
        self.carnet = carnet
    }

    public func load() {
        do {
            tokens = try carnet.tokens()
        } catch {
            message = ErrorMessages.message(error)
        }
    }

    /// Online first; with no network, a token made on the phone.
    public func makeToken() async {
        let wanted = practice.trimmingCharacters(in: .whitespaces)
        let forPractice = wanted.isEmpty ? nil : wanted
        busy = true
        message = nil
        defer { busy = false }
        do {
            let token: ConsultToken
            do {
                token = try await carnet.requestToken(practice: forPractice)
            } catch let error as CarnetError where error == .Offline || error == .ServerUnavailable {
                token = try await carnet.offlineToken(practice: forPractice)
                message = UiText("token_made_offline")
            }
            latest = token
            practice = ""
        } catch {
            message = ErrorMessages.message(error)
        }
        load()
    }

    public func sync() async {
        busy = true
        defer { busy = false }
        do {
            let report = try await carnet.sync()
            disabled = report.tokensDisabled
            message = report.tokensUsed > 0 ? UiText("tokens_used_since", Int64(report.tokensUsed)) : nil
        } catch {
            message = ErrorMessages.message(error)
        }
        load()
    }

    public func reEnable() async {
        do {
            try await carnet.reEnableTokens()
            disabled = false
        } catch {
            message = ErrorMessages.message(error)
        }
    }
}

// MARK: - Sign-in and account

public enum SignInStep {
    case register, confirmEmail, logIn, enrol, done
}

@MainActor
public final class SignInModel: ObservableObject {
    @Published public var registration = Registration(affiliateNumber: "", cardNumber: "", birthDate: "", username: "", password: "", email: "")
    @Published public private(set) var step: SignInStep = .logIn
    @Published public private(set) var fieldErrors: [RegistrationField: UiText] = [:]
    @Published public private(set) var username = ""
    @Published public private(set) var busy = false
    @Published public private(set) var message: UiText?
    private let carnet: Carnet
    private let deviceName: String

    public init(carnet: Carnet, deviceName: String) {
        self.carnet = carnet
        self.deviceName = deviceName
        step = (try? carnet.enrolment()) != nil ? .done : .logIn
    }

    public func show(_ newStep: SignInStep) {
        step = newStep
        message = nil
    }

    public func register() async {
        busy = true
        defer { busy = false }
        do {
            username = try await carnet.register(registration: registration)
            fieldErrors = [:]
            step = .confirmEmail
            message = UiText("confirm_email_sent")
        } catch CarnetError.InvalidRegistration(let fields) {
            fieldErrors = Dictionary(uniqueKeysWithValues: fields.map { ($0, ErrorMessages.registrationField($0)) })
            message = UiText("registration_fix_fields", Int64(fields.count))
        } catch {
            fail(error)
        }
    }

    public func confirm(code: String) async {
        busy = true
        defer { busy = false }
        do {
            try await carnet.confirmEmail(username: username, code: code.trimmingCharacters(in: .whitespaces))
            step = .logIn
            message = UiText("email_confirmed")
        } catch {
            fail(error)
        }
    }

    public func logIn(username: String, password: String) async {
        busy = true
        defer { busy = false }
        self.username = username.trimmingCharacters(in: .whitespaces)
        do {
            try await carnet.login(username: self.username, password: password)
            step = .enrol
            if (try? carnet.enrolment()) == nil {
                _ = try await carnet.enrolDevice(deviceName: deviceName)
            }
            step = .done
        } catch CarnetError.EmailNotConfirmed {
            step = .confirmEmail
            message = UiText("error_email_not_confirmed")
        } catch {
            fail(error)
        }
    }

    private func fail(_ error: Error) {
        message = ErrorMessages.message(error)
        if ErrorMessages.recovery(ErrorMessages.code(error)) == .logIn { step = .logIn }
    }
}

@MainActor
public final class AccountModel: ObservableObject {
    @Published public private(set) var account: Account?
    @Published public private(set) var devices: [Device] = []
    @Published public private(set) var transactions: [Transaction] = []
    @Published public private(set) var thisDeviceId: String?
    @Published public private(set) var message: UiText?
    @Published public private(set) var loggedOut = false
    private let carnet: Carnet

    public init(carnet: Carnet) {
        self.carnet = carnet
    }

    public func load() async {
        do {
            thisDeviceId = try? carnet.enrolment().deviceId
            account = try await carnet.account()
            transactions = try carnet.transactions()
            devices = try await carnet.devices()
        } catch {
            message = ErrorMessages.message(error)
        }
    }

    public func revoke(_ deviceId: String) async {
        do {
            try await carnet.revokeDevice(deviceId: deviceId)
            devices = try await carnet.devices()
            message = UiText("device_revoked")
        } catch {
            message = ErrorMessages.message(error)
        }
    }

    public func logOut() async {
        do {
            try await carnet.logout()
        } catch CarnetError.Closed {
            // Already logged out.
        } catch {
            message = ErrorMessages.message(error)
            return
        }
        loggedOut = true
    }
}

// MARK: - Background sync

public enum SyncOutcome: Equatable {
    case done, retryLater, needsMember
}

/// BackgroundSync.kt in Swift: what the BGTask reports.
public enum BackgroundSync {
    public static func run(_ carnet: Carnet) async -> SyncOutcome {
        do {
            _ = try await carnet.sync()
            return .done
        } catch {
            let code = ErrorMessages.code(error)
            switch ErrorMessages.recovery(code) {
            case .retry: return .retryLater
            case .none: return code == "tls_failure" || code == "pin_mismatch" ? .retryLater : .needsMember
            default: return .needsMember
            }
        }
    }
}
