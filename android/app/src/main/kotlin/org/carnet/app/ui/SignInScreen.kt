// Registration, e-mail confirmation and login; the core checks every field.
package org.carnet.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import org.carnet.app.R
import org.carnet.core.RegistrationField
import org.carnet.shell.SignInModel
import org.carnet.shell.SignInStep

@Composable
fun SignInScreen(model: SignInModel, vm: ShellViewModel) {
    val state by model.state.collectAsState()
    Column(
        Modifier.padding(24.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        when (state.step) {
            SignInStep.REGISTER -> {
                Text(stringResource(R.string.register_title), style = MaterialTheme.typography.headlineSmall)
                val r = state.registration
                RegistrationFieldInput(R.string.label_affiliate_number, r.affiliateNumber, state.fieldErrors[RegistrationField.AFFILIATE_NUMBER]) { v -> model.editRegistration { it.copy(affiliateNumber = v) } }
                RegistrationFieldInput(R.string.label_card_number, r.cardNumber, state.fieldErrors[RegistrationField.CARD_NUMBER], KeyboardType.Number) { v -> model.editRegistration { it.copy(cardNumber = v) } }
                RegistrationFieldInput(R.string.label_birth_date, r.birthDate, state.fieldErrors[RegistrationField.BIRTH_DATE], KeyboardType.Number) { v -> model.editRegistration { it.copy(birthDate = v) } }
                RegistrationFieldInput(R.string.label_username, r.username, state.fieldErrors[RegistrationField.USERNAME]) { v -> model.editRegistration { it.copy(username = v) } }
                RegistrationFieldInput(R.string.label_password, r.password, state.fieldErrors[RegistrationField.PASSWORD], KeyboardType.Password, secret = true) { v -> model.editRegistration { it.copy(password = v) } }
                RegistrationFieldInput(R.string.label_email, r.email, state.fieldErrors[RegistrationField.EMAIL], KeyboardType.Email) { v -> model.editRegistration { it.copy(email = v) } }
                Button(enabled = !state.busy, onClick = { vm.launch { model.register() } }) { Text(stringResource(R.string.action_register)) }
                TextButton(onClick = { model.showLogIn() }) { Text(stringResource(R.string.action_have_account)) }
            }
            SignInStep.CONFIRM_EMAIL -> {
                Text(stringResource(R.string.confirm_email_title), style = MaterialTheme.typography.headlineSmall)
                var code by rememberSaveable { mutableStateOf("") }
                OutlinedTextField(code, { code = it.filter(Char::isDigit).take(6) }, label = { Text(stringResource(R.string.label_confirmation_code)) },
                    keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword))
                Button(enabled = !state.busy && code.length == 6, onClick = { vm.launch { model.confirmEmail(code) } }) { Text(stringResource(R.string.action_confirm)) }
            }
            SignInStep.LOG_IN, SignInStep.ENROL -> {
                Text(stringResource(R.string.login_title), style = MaterialTheme.typography.headlineSmall)
                var username by rememberSaveable { mutableStateOf(state.username) }
                var password by rememberSaveable { mutableStateOf("") }
                OutlinedTextField(username, { username = it }, label = { Text(stringResource(R.string.label_username)) }, modifier = Modifier.fillMaxWidth())
                OutlinedTextField(password, { password = it }, label = { Text(stringResource(R.string.label_password)) },
                    visualTransformation = PasswordVisualTransformation(), modifier = Modifier.fillMaxWidth(),
                    keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password))
                if (state.step == SignInStep.ENROL) Text(stringResource(R.string.enrolling_device))
                Button(enabled = !state.busy, onClick = { vm.launch { model.logIn(username, password) } }) { Text(stringResource(R.string.action_log_in)) }
                TextButton(onClick = { model.showRegistration() }) { Text(stringResource(R.string.action_create_account)) }
            }
            SignInStep.DONE -> Unit
        }
        if (state.busy) CircularProgressIndicator()
        state.message?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
    }
}

@Composable
private fun RegistrationFieldInput(
    label: Int,
    value: String,
    error: org.carnet.shell.UiText?,
    type: KeyboardType = KeyboardType.Text,
    secret: Boolean = false,
    onChange: (String) -> Unit,
) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(stringResource(label)) },
        isError = error != null,
        supportingText = error?.let { { Text(text(it)) } },
        keyboardOptions = KeyboardOptions(keyboardType = type),
        visualTransformation = if (secret) PasswordVisualTransformation() else androidx.compose.ui.text.input.VisualTransformation.None,
        modifier = Modifier.fillMaxWidth(),
    )
}
