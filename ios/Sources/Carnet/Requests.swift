// Requests (leave, continuity, remote care, claims): Requests.kt in Swift.
// These types mirror the core's in the shape the screens edit; the adapter
// over the generated API is CarnetRequestsPort (CarnetRequests.swift).
import Foundation

public enum RequestKind: String, CaseIterable {
    case absenteeismLeave = "absenteeism_leave"
    case continuityCertificate = "continuity_certificate"
    case remoteCare = "remote_care"
    case reimbursementClaim = "reimbursement_claim"
}

public enum RequestStatus: String, CaseIterable {
    case draft, queued, sent, received
    case underReview = "under_review"
    case returned, resubmitted, approved, rejected

    public var editable: Bool { self == .draft || self == .returned }
}

public struct AttachmentRef: Equatable {
    public let sha256: String
    public let size: Int64
    public let mediaType: String
    public let fileName: String
}

public struct FieldProblem: Equatable {
    public let field: String
    public let code: String
    public let limits: [Int64]
}

public struct RequestInvalid: Error {
    public let problems: [FieldProblem]
}

/// The form as typed: field wire names as keys (`start`, `items[0].amount_cents`).
public struct RequestDraft: Equatable {
    public var kind: RequestKind
    public var fields: [String: String] = [:]
    public var attachments: [String: [AttachmentRef]] = [:]

    public init(kind: RequestKind) {
        self.kind = kind
    }
}

public struct RequestSummary: Equatable {
    public let id: String
    public let kind: RequestKind
    public let status: RequestStatus
    public let reasons: [String]
}

public struct SyncProgress: Equatable {
    public let done: Int
    public let total: Int
}

/// The explicit cancel handle (UniFFI does not cancel Rust futures); the
/// adapter forwards `cancel()` to the core's SyncCancelHandle via `onCancel`.
public final class RequestSyncHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var _cancelled = false
    private var actions: [() -> Void] = []
    public init() {}

    public var cancelled: Bool {
        lock.lock(); defer { lock.unlock() }
        return _cancelled
    }

    /// Idempotent; callable from any thread.
    public func cancel() {
        lock.lock()
        _cancelled = true
        let run = actions
        lock.unlock()
        run.forEach { $0() }
    }

    /// Runs `action` on `cancel()`, or at once if already cancelled.
    public func onCancel(_ action: @escaping () -> Void) {
        lock.lock()
        actions.append(action)
        let now = _cancelled
        lock.unlock()
        if now { action() }
    }
}

public protocol RequestsPort {
    func addAttachment(_ bytes: Data, mediaType: String, fileName: String) async throws -> AttachmentRef
    func saveDraft(id: String?, draft: RequestDraft) async throws -> String
    func submit(id: String) async throws
    func list() async throws -> (requests: [RequestSummary], unreadable: Int)
    func sync(_ handle: RequestSyncHandle, progress: @escaping (SyncProgress) -> Void) async throws
}

@MainActor
public final class RequestFormModel: ObservableObject {
    @Published public var draft: RequestDraft {
        didSet { if draft != oldValue { edited(oldValue) } }
    }
    @Published public private(set) var fieldErrors: [String: UiText] = [:]
    @Published public private(set) var saved = true
    @Published public private(set) var message: UiText?
    @Published public private(set) var submitted = false
    public let returnedReasons: [String]
    private var id: String?
    private let port: RequestsPort
    private var autosave: Task<Void, Never>?

    public init(draft: RequestDraft, port: RequestsPort, existing: RequestSummary? = nil) {
        self.draft = draft
        self.port = port
        self.id = existing?.id
        self.returnedReasons = existing?.status == .returned ? existing?.reasons ?? [] : []
    }

    private func edited(_ before: RequestDraft) {
        saved = false
        let changed = Set(draft.fields.keys).union(before.fields.keys).filter { draft.fields[$0] != before.fields[$0] }
            .union(Set(draft.attachments.keys).union(before.attachments.keys).filter { draft.attachments[$0] != before.attachments[$0] })
        fieldErrors = fieldErrors.filter { path, _ in !changed.contains { path.hasPrefix($0) } }
        autosave?.cancel()
        autosave = Task { [weak self] in
            try? await Task.sleep(nanoseconds: 1_000_000_000)
            guard !Task.isCancelled else { return }
            await self?.saveNow()
        }
    }

    public func saveNow() async {
        autosave?.cancel()
        if saved, id != nil { return }
        let snapshot = draft
        do {
            id = try await port.saveDraft(id: id, draft: snapshot)
            saved = draft == snapshot
        } catch {
            message = UiText("draft_not_saved")
        }
    }

    public func attach(_ bytes: Data, mediaType: String, fileName: String, field: String, single: Bool) async {
        do {
            let ref = try await port.addAttachment(bytes, mediaType: mediaType, fileName: fileName)
            draft.attachments[field] = single ? [ref] : (draft.attachments[field] ?? []) + [ref]
        } catch {
            message = UiText("attachment_refused")
        }
    }

    public func submit() async {
        await saveNow()
        guard let id, saved else { return }
        do {
            try await port.submit(id: id)
            submitted = true
            fieldErrors = [:]
            message = UiText("request_queued")
        } catch let invalid as RequestInvalid {
            fieldErrors = Dictionary(invalid.problems.map { ($0.field, UiText("problem_" + $0.code, text: $0.limits.map(String.init).joined(separator: ","))) },
                                     uniquingKeysWith: { first, _ in first })
            message = UiText("form_fix_fields", Int64(invalid.problems.count))
        } catch {
            message = ErrorMessages.message(error)
        }
    }
}

@MainActor
public final class RequestsListModel: ObservableObject {
    @Published public private(set) var requests: [RequestSummary] = []
    @Published public private(set) var unreadable = 0
    @Published public private(set) var unreadableMessage: UiText?
    @Published public private(set) var syncing = false
    @Published public private(set) var progress: SyncProgress?
    @Published public private(set) var message: UiText?
    public let port: RequestsPort
    private var handle: RequestSyncHandle?

    public init(port: RequestsPort) {
        self.port = port
    }

    public func load() async {
        if let listing = try? await port.list() {
            requests = listing.requests
            unreadable = listing.unreadable
            unreadableMessage = listing.unreadable > 0 ? UiText("requests_unreadable", Int64(listing.unreadable)) : nil
        }
    }

    public func sync() async {
        guard handle == nil else { return }
        let mine = RequestSyncHandle()
        handle = mine
        syncing = true
        message = nil
        do {
            try await port.sync(mine) { [weak self] progress in
                Task { @MainActor in self?.progress = progress }
            }
            if mine.cancelled { message = UiText("sync_cancelled") }
        } catch {
            message = ErrorMessages.message(error)
        }
        handle = nil
        syncing = false
        progress = nil
        await load()
    }

    public func cancel() {
        handle?.cancel()
    }
}
