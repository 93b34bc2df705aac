// Coverage, devices (remove another), pharmacy purchases, logout.
import Carnet
import SwiftUI

struct AccountView: View {
    @EnvironmentObject private var app: AppModel
    @StateObject var model: AccountModel

    var body: some View {
        List {
            if let account = model.account {
                Section(tr("account_title")) {
                    Text(account.username)
                    Text(tr("label_plan") + ": " + account.coverage.plan)
                    Text(tr("label_region") + ": " + account.coverage.region)
                    Text(tr("coverage_valid_until", account.coverage.validUntil))
                }
            }
            Section(tr("devices_title")) {
                ForEach(model.devices, id: \.id) { device in
                    HStack {
                        VStack(alignment: .leading) {
                            Text(device.name)
                            if device.id == model.thisDeviceId { Text(tr("this_device")).font(.caption) }
                            if device.revokedAt != nil { Text(tr("revoked_label")).font(.caption) }
                        }
                        Spacer()
                        if device.id != model.thisDeviceId && device.revokedAt == nil {
                            Button(tr("action_revoke")) { Task { await model.revoke(device.id) } }
                        }
                    }
                }
            }
            Section(tr("purchases_title")) {
                ForEach(model.transactions, id: \.id) { purchase in
                    HStack {
                        Text(purchase.pharmacyName)
                        Spacer()
                        Text(Double(purchase.amountCents) / 100, format: .currency(code: purchase.currency))
                    }
                }
            }
            Section {
                if let message = model.message { Text(tr(message)) }
                Text(tr("logout_warning")).font(.footnote)
                Button(tr("action_log_out"), role: .destructive) { Task { await model.logOut() } }
            }
        }
        .task { await model.load() }
        .onChange(of: model.loggedOut) { out in
            if out { Task { await app.loggedOut() } }
        }
    }
}
