// Registration, e-mail confirmation and login; the core checks every field.
import Carnet
import SwiftUI

struct SignInView: View {
    @ObservedObject var model: SignInModel
    @State private var username = ""
    @State private var password = ""
    @State private var code = ""

    var body: some View {
        Form {
            switch model.step {
            case .register:
                Section(tr("register_title")) {
                    field("label_affiliate_number", $model.registration.affiliateNumber, .affiliateNumber)
                    field("label_card_number", $model.registration.cardNumber, .cardNumber).keyboardType(.numberPad)
                    field("label_birth_date", $model.registration.birthDate, .birthDate)
                    field("label_username", $model.registration.username, .username).textInputAutocapitalization(.never)
                    SecureField(tr("label_password"), text: $model.registration.password)
                    error(.password)
                    field("label_email", $model.registration.email, .email).keyboardType(.emailAddress)
                    Button(tr("action_register")) { Task { await model.register() } }.disabled(model.busy)
                    Button(tr("action_have_account")) { model.show(.logIn) }
                }
            case .confirmEmail:
                Section(tr("confirm_email_title")) {
                    TextField(tr("label_confirmation_code"), text: $code).keyboardType(.numberPad)
                    Button(tr("action_confirm")) { Task { await model.confirm(code: code) } }.disabled(model.busy || code.count != 6)
                }
            case .logIn, .enrol:
                Section(tr("login_title")) {
                    TextField(tr("label_username"), text: $username).textInputAutocapitalization(.never)
                    SecureField(tr("label_password"), text: $password)
                    if model.step == .enrol { Text(tr("enrolling_device")) }
                    Button(tr("action_log_in")) { Task { await model.logIn(username: username, password: password) } }.disabled(model.busy)
                    Button(tr("action_create_account")) { model.show(.register) }
                }
            case .done:
                EmptyView()
            }
            if let message = model.message {
                Text(tr(message)).foregroundColor(.red)
            }
        }
    }

    private func field(_ label: String, _ text: Binding<String>, _ which: RegistrationField) -> some View {
        VStack(alignment: .leading) {
            TextField(tr(label), text: text)
            error(which)
        }
    }

    @ViewBuilder
    private func error(_ which: RegistrationField) -> some View {
        if let message = model.fieldErrors[which] {
            Text(tr(message)).font(.footnote).foregroundColor(.red)
        }
    }
}
