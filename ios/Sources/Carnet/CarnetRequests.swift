// RequestsPort over the generated bindings: one core call per member action.
// Converts the screens' drafts (field wire names to typed text, attachments
// by field) to the core's records and back. CarnetRequests.kt's twin:
// android/shared-logic/.../CoreAdapters.kt (CarnetRequestsPort).
import Foundation

public struct CarnetRequestsPort: RequestsPort {
    private let carnet: CarnetProtocol

    public init(carnet: CarnetProtocol) {
        self.carnet = carnet
    }

    public func addAttachment(_ bytes: Data, mediaType: String, fileName: String) async throws -> AttachmentRef {
        let ref = try await carnet.addAttachment(bytes: bytes, mediaType: mediaType, fileName: fileName)
        return AttachmentRef(ffi: ref)
    }

    public func saveDraft(id: String?, draft: RequestDraft) async throws -> String {
        try await invalidAsShell {
            let form = draft.coreForm()
            if let id {
                return try await carnet.updateRequestDraft(id: id, form: form).id
            }
            return try await carnet.saveRequestDraft(form: form).id
        }
    }

    public func submit(id: String) async throws {
        _ = try await invalidAsShell { try await carnet.submitRequest(id: id) }
    }

    public func recall(id: String) async throws {
        _ = try await carnet.recallRequest(id: id)
    }

    public func list() async throws -> (requests: [RequestSummary], unreadable: Int) {
        let listing = try await carnet.requests()
        return (listing.requests.map(RequestSummary.init(ffi:)), Int(listing.unreadable))
    }

    /// One full sync with progress (called on a Rust thread). A cancelled
    /// sync returns normally; the list shows it from `handle.cancelled`.
    public func sync(_ handle: RequestSyncHandle, progress: @escaping (SyncProgress) -> Void) async throws {
        let cancel = SyncCancelHandle()
        handle.onCancel { cancel.cancel() }
        do {
            _ = try await carnet.syncRequests(progress: ProgressForwarder(progress), cancel: cancel)
        } catch CarnetError.SyncCancelled where handle.cancelled {
            return
        }
    }

    private func invalidAsShell<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch CarnetError.RequestInvalid(let problems) {
            throw RequestInvalid(problems: problems.map { FieldProblem(field: $0.field, code: $0.code, limits: $0.limits) })
        }
    }
}

/// Progress from the core to the screen's closure.
private final class ProgressForwarder: SyncProgressListener, @unchecked Sendable {
    private let forward: (SyncProgress) -> Void

    init(_ forward: @escaping (SyncProgress) -> Void) {
        self.forward = forward
    }

    func onProgress(progress: SyncProgressReport) throws -> Bool {
        switch progress.phase {
        case .attachments:
            forward(SyncProgress(done: Int(clamping: progress.bytesDone), total: Int(clamping: progress.bytesTotal)))
        case .requests:
            forward(SyncProgress(done: Int(progress.requestsDone), total: Int(progress.requestsTotal)))
        case .statuses:
            forward(SyncProgress(done: Int(progress.statusesApplied), total: Int(progress.statusesApplied)))
        }
        return true
    }
}

extension AttachmentRef {
    init(ffi: CarnetFFI.AttachmentRef) {
        self.init(sha256: ffi.sha256, size: Int64(clamping: ffi.size), mediaType: ffi.mediaType, fileName: ffi.fileName)
    }

    var ffi: CarnetFFI.AttachmentRef {
        CarnetFFI.AttachmentRef(sha256: sha256, size: UInt64(max(size, 0)), mediaType: mediaType, fileName: fileName)
    }
}

extension RequestKind {
    init(ffi: CarnetFFI.RequestKind) {
        switch ffi {
        case .absenteeismLeave: self = .absenteeismLeave
        case .continuityCertificate: self = .continuityCertificate
        case .remoteCare: self = .remoteCare
        case .reimbursementClaim: self = .reimbursementClaim
        }
    }
}

extension RequestStatus {
    init(ffi: RequestStateName) {
        switch ffi {
        case .draft: self = .draft
        case .queued: self = .queued
        case .sent: self = .sent
        case .received: self = .received
        case .underReview: self = .underReview
        case .returned: self = .returned
        case .resubmitted: self = .resubmitted
        case .approved: self = .approved
        case .rejected: self = .rejected
        }
    }
}

extension RequestSummary {
    init(ffi: MemberRequest) {
        self.init(id: ffi.id, kind: RequestKind(ffi: ffi.kind), status: RequestStatus(ffi: ffi.state), reasons: ffi.reasons)
    }
}

private let familyRelations: [String: FamilyRelation] = [
    "spouse_or_partner": .spouseOrPartner, "child": .child, "parent": .parent, "sibling": .sibling,
    "grandparent": .grandparent, "grandchild": .grandchild, "parent_in_law": .parentInLaw, "other_relative": .otherRelative,
]
private let careReasons: [String: RemoteCareReason] = ["relocation": .relocation, "temporary_stay": .temporaryStay, "referral": .referral]
private let claimKinds: [String: ClaimKind] = ["outpatient": .outpatient, "inpatient": .inpatient, "global": .global]

extension RequestDraft {
    private func text(_ field: String) -> String { fields[field] ?? "" }

    private func date(_ field: String) -> String? {
        let value = text(field).trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }

    private func files(_ field: String) -> [CarnetFFI.AttachmentRef] { (attachments[field] ?? []).map(\.ffi) }

    /// The draft as the core's record. Items are `items[i].description`,
    /// `items[i].amount_cents` (as typed: `1250.50`) and `items[i].currency`.
    func coreForm() -> RequestForm {
        switch kind {
        case .absenteeismLeave:
            let reason: LeaveReason?
            switch text("reason") {
            case "own_illness": reason = .ownIllness
            case "family_care": reason = familyRelations[text("relation")].map { .familyCare(relation: $0) }
            default: reason = nil
            }
            return .leave(form: AbsenteeismLeave(reason: reason, start: date("start"), end: date("end"),
                                                 workplace: text("workplace"), medicalCertificate: files("medical_certificate").first))
        case .continuityCertificate:
            return .continuity(form: ContinuityCertificate(schoolYear: Int32(text("school_year").trimmingCharacters(in: .whitespaces)),
                                                           school: text("school"), certificate: files("certificate").first))
        case .remoteCare:
            return .remoteCare(form: RemoteCareRegistration(homeRegion: text("home_region"), destinationRegion: text("destination_region"),
                                                            facility: text("facility"), start: date("start"), end: date("end"),
                                                            reason: careReasons[text("reason")], details: text("details"),
                                                            attachments: files("attachments")))
        case .reimbursementClaim:
            var items: [ClaimItem] = []
            while fields["items[\(items.count)].description"] != nil || fields["items[\(items.count)].amount_cents"] != nil {
                let i = items.count
                items.append(ClaimItem(description: text("items[\(i)].description"),
                                       amountCents: RequestDraft.cents(text("items[\(i)].amount_cents")) ?? 0,
                                       currency: fields["items[\(i)].currency"] ?? "ARS"))
            }
            return .claim(form: ReimbursementClaim(claimKind: claimKinds[text("claim_kind")], items: items, receipts: files("receipts")))
        }
    }

    /// `1250.50`, `1250,5` or `1250` to cents; nil when not an amount.
    static func cents(_ typed: String) -> Int64? {
        let parts = typed.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".").split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0]) else { return nil }
        guard parts.count == 2 else { return whole * 100 }
        guard parts[1].count <= 2, let fraction = Int64(parts[1].padding(toLength: 2, withPad: "0", startingAt: 0)) else { return nil }
        return whole * 100 + fraction
    }
}

/// The placeholder from before the requests API was generated (an empty
/// list; saving says it did not save). Kept only until RootView switches to
/// `CarnetRequestsPort(carnet:)`.
@available(*, deprecated, message: "The requests API is bound: use CarnetRequestsPort(carnet:)")
public struct RequestsNotBound: RequestsPort {
    public init() {}
    public func addAttachment(_ bytes: Data, mediaType: String, fileName: String) async throws -> AttachmentRef {
        throw CarnetError.Unexpected(what: "requests_not_bound")
    }
    public func saveDraft(id: String?, draft: RequestDraft) async throws -> String {
        throw CarnetError.Unexpected(what: "requests_not_bound")
    }
    public func submit(id: String) async throws {
        throw CarnetError.Unexpected(what: "requests_not_bound")
    }
    public func list() async throws -> (requests: [RequestSummary], unreadable: Int) {
        ([], 0)
    }
    public func sync(_ handle: RequestSyncHandle, progress: @escaping (SyncProgress) -> Void) async throws {}
}
