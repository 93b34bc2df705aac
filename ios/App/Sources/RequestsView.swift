// The requests list (statuses, returned reasons, sync with progress and
// cancel) and the leave, remote-care and claim forms with a file picker.
import Carnet
import SwiftUI
import UniformTypeIdentifiers

struct RequestsView: View {
    @StateObject var model: RequestsListModel
    @State private var editing: RequestFormModel?

    var body: some View {
        NavigationStack {
            List {
                Section {
                    Button(tr("action_new_leave")) { edit(.absenteeismLeave) }
                    Button(tr("action_new_remote_care")) { edit(.remoteCare) }
                    Button(tr("action_new_claim")) { edit(.reimbursementClaim) }
                }
                Section {
                    if model.syncing {
                        if let p = model.progress {
                            ProgressView(tr("sync_progress", p.done, p.total), value: Double(p.done), total: Double(max(p.total, 1)))
                        }
                        Button(tr("action_cancel")) { model.cancel() }
                    } else {
                        Button(tr("action_sync")) { Task { await model.sync() } }
                    }
                    if let message = model.message { Text(tr(message)) }
                    if let unreadable = model.unreadableMessage { Text(tr(unreadable)).foregroundColor(.red) }
                }
                Section(tr("requests_title")) {
                    if model.requests.isEmpty { Text(tr("requests_empty")) }
                    ForEach(model.requests, id: \.id) { request in
                        VStack(alignment: .leading) {
                            Text(tr("request_kind_" + request.kind.rawValue)).font(.headline)
                            Text(tr("request_status_" + request.status.rawValue))
                            if [.returned, .rejected, .resubmitted].contains(request.status), !request.reasons.isEmpty {
                                Text(tr("returned_reasons_title")).font(.caption)
                                ForEach(request.reasons, id: \.self) { Text("• " + $0).font(.footnote) }
                            }
                        }
                    }
                }
            }
            .task { await model.load() }
            .sheet(item: Binding(get: { editing.map(FormBox.init) }, set: { editing = $0?.model })) { box in
                RequestFormView(model: box.model)
            }
        }
    }

    private func edit(_ kind: RequestKind) {
        editing = RequestFormModel(draft: RequestDraft(kind: kind), port: model.port)
    }
}

private struct FormBox: Identifiable {
    let model: RequestFormModel
    var id: ObjectIdentifier { ObjectIdentifier(model) }
}

struct RequestFormView: View {
    @ObservedObject var model: RequestFormModel
    @Environment(\.dismiss) private var dismiss
    @State private var importing: (field: String, single: Bool)?

    var body: some View {
        NavigationStack {
            Form {
                if !model.returnedReasons.isEmpty {
                    Section(tr("returned_reasons_title")) {
                        ForEach(model.returnedReasons, id: \.self) { Text($0) }
                    }
                }
                switch model.draft.kind {
                case .absenteeismLeave, .continuityCertificate:
                    choice("label_leave_reason", "reason", ["own_illness", "family_care"], prefix: "leave_reason_")
                    if model.draft.fields["reason"] == "family_care" {
                        choice("label_family_relation", "relation",
                               ["spouse_or_partner", "child", "parent", "sibling", "grandparent", "grandchild", "parent_in_law", "other_relative"],
                               prefix: "relation_")
                    }
                    text("label_start_date", "start")
                    text("label_end_date", "end")
                    text("label_workplace", "workplace")
                    attachments("label_medical_certificate", "medical_certificate", single: true)
                case .remoteCare:
                    text("label_home_region", "home_region")
                    text("label_destination_region", "destination_region")
                    text("label_facility", "facility")
                    text("label_start_date", "start")
                    text("label_end_date", "end")
                    choice("label_remote_care_reason", "reason", ["relocation", "temporary_stay", "referral"], prefix: "remote_care_reason_")
                    text("label_details", "details")
                    attachments("label_attachments", "attachments", single: false)
                case .reimbursementClaim:
                    choice("label_claim_kind", "claim_kind", ["outpatient", "inpatient", "global"], prefix: "claim_kind_")
                    text("label_item_description", "items[0].description")
                    text("label_item_amount", "items[0].amount_cents")
                    text("label_item_currency", "items[0].currency")
                    attachments("label_receipts", "receipts", single: false)
                }
                Section {
                    Text(tr(model.saved ? "draft_saved" : "draft_unsaved")).font(.caption)
                    if let message = model.message { Text(tr(message)) }
                    Button(tr("action_submit")) { Task { await model.submit() } }.disabled(model.submitted)
                    Button(tr("action_save_draft")) { Task { await model.saveNow(); dismiss() } }
                }
            }
            .navigationTitle(tr("request_kind_" + model.draft.kind.rawValue))
            .fileImporter(isPresented: Binding(get: { importing != nil }, set: { if !$0 { importing = nil } }),
                          allowedContentTypes: [.jpeg, .png, .heic, .webP, .pdf]) { result in
                guard let target = importing, case .success(let url) = result else { return }
                Task { await attach(url, field: target.field, single: target.single) }
            }
            .onDisappear { Task { await model.saveNow() } }
        }
    }

    private func attach(_ url: URL, field: String, single: Bool) async {
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        guard let data = try? Data(contentsOf: url) else { return }
        let type = UTType(filenameExtension: url.pathExtension)?.preferredMIMEType ?? "application/octet-stream"
        await model.attach(data, mediaType: type, fileName: url.lastPathComponent, field: field, single: single)
    }

    private func text(_ label: String, _ path: String) -> some View {
        VStack(alignment: .leading) {
            TextField(tr(label), text: Binding(get: { model.draft.fields[path] ?? "" }, set: { model.draft.fields[path] = $0 }))
            problem(path)
        }
    }

    private func choice(_ label: String, _ path: String, _ options: [String], prefix: String) -> some View {
        VStack(alignment: .leading) {
            Picker(tr(label), selection: Binding(get: { model.draft.fields[path] ?? "" }, set: { model.draft.fields[path] = $0 })) {
                ForEach(options, id: \.self) { Text(tr(prefix + $0)).tag($0) }
            }
            problem(path)
        }
    }

    private func attachments(_ label: String, _ path: String, single: Bool) -> some View {
        Section(tr(label)) {
            ForEach(model.draft.attachments[path] ?? [], id: \.sha256) { Text($0.fileName) }
            Button(tr("action_attach")) { importing = (path, single) }
            problem(path)
        }
    }

    @ViewBuilder
    private func problem(_ path: String) -> some View {
        if let message = model.fieldErrors[path] {
            Text(tr(message)).font(.footnote).foregroundColor(.red)
        }
    }
}
