// Consult tokens: make one (online, or on the phone offline), the history.
import Carnet
import SwiftUI

struct TokenView: View {
    @StateObject var model: TokenScreenModel

    var body: some View {
        List {
            Section {
                if let latest = model.latest {
                    Text(latest.code).font(.system(size: 48, weight: .bold, design: .monospaced))
                }
                TextField(tr("token_practice_hint"), text: $model.practice)
                Button(tr("action_make_token")) { Task { await model.makeToken() } }.disabled(model.busy)
                Button(tr("action_sync")) { Task { await model.sync() } }.disabled(model.busy)
                if model.disabled {
                    Text(tr("tokens_disabled"))
                    Button(tr("action_re_enable")) { Task { await model.reEnable() } }
                }
                if let message = model.message { Text(tr(message)) }
            }
            Section(tr("tokens_title")) {
                ForEach(model.tokens, id: \.madeAt) { token in
                    VStack(alignment: .leading) {
                        Text(token.code).font(.headline.monospaced())
                        Text([token.practice, status(token)].compactMap { $0 }.joined(separator: " · ")).font(.footnote)
                        if token.offline { Text(tr("token_offline_badge")).font(.caption) }
                    }
                }
            }
        }
        .onAppear { model.load() }
    }

    private func status(_ token: ConsultToken) -> String {
        switch token.status {
        case .active:
            let hours = max(0, (token.expiresAt - Int64(Date().timeIntervalSince1970) + 3599) / 3600)
            return hours > 0 ? tr("token_hours_left", hours) : tr("token_status_expired")
        case .used(let practice, _):
            return tr("token_status_used", practice)
        case .expired:
            return tr("token_status_expired")
        }
    }
}
