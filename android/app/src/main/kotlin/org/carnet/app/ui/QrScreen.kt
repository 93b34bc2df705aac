// The pharmacy QR: brightness up while a code shows, PIN or BiometricPrompt
// gate, countdown; the timers are the shared QrScreenModel's.
package org.carnet.app.ui

import android.view.WindowManager
import androidx.biometric.BiometricPrompt
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.compose.LifecycleResumeEffect
import org.carnet.app.R
import org.carnet.core.QrCode
import org.carnet.core.QrPurpose
import org.carnet.shell.QrScreenModel
import org.carnet.shell.QrScreenState
import org.carnet.shell.Recovery

@Composable
fun QrScreen(model: QrScreenModel, vm: ShellViewModel, activity: FragmentActivity) {
    val state by model.state.collectAsState()
    // Shown only while the screen is in front: stop() clears the code and the timers.
    LifecycleResumeEffect(model) {
        vm.launch { model.start() }
        onPauseOrDispose { model.stop() }
    }
    if (state is QrScreenState.Showing) FullBrightness(activity)
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp), horizontalAlignment = Alignment.CenterHorizontally) {
        Text(stringResource(R.string.qr_title), style = MaterialTheme.typography.headlineSmall)
        when (val s = state) {
            QrScreenState.Loading -> Unit
            is QrScreenState.ChoosePin -> {
                var pin by remember { mutableStateOf("") }
                var again by remember { mutableStateOf("") }
                Text(stringResource(R.string.qr_choose_pin))
                PinField(pin) { pin = it }
                Text(stringResource(R.string.qr_pin_again))
                PinField(again) { again = it }
                s.message?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
                Button(enabled = !s.busy && pin.length == 6 && again.length == 6, onClick = { vm.launch { model.choosePin(pin, again) } }) {
                    Text(stringResource(R.string.action_choose_pin))
                }
            }
            is QrScreenState.Locked -> {
                var pin by remember { mutableStateOf("") }
                Text(stringResource(R.string.qr_enter_pin))
                PinField(pin) { pin = it }
                s.message?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
                s.retryInSeconds?.let { Text(stringResource(R.string.qr_retry_in, it)) }
                Button(enabled = !s.busy && s.retryInSeconds == null && pin.length == 6, onClick = {
                    val entered = pin
                    pin = ""
                    vm.launch { model.unlockWithPin(entered) }
                }) {
                    Text(stringResource(R.string.action_unlock))
                }
                if (s.biometricAvailable) {
                    val title = stringResource(R.string.biometric_prompt_title)
                    val subtitle = stringResource(R.string.biometric_prompt_subtitle)
                    val cancel = stringResource(R.string.action_cancel)
                    OutlinedButton(onClick = { askBiometric(activity, title, subtitle, cancel) { vm.launch { model.biometricSucceeded() } } }) {
                        Text(stringResource(R.string.action_use_biometric))
                    }
                }
            }
            is QrScreenState.Showing -> {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    FilterChip(selected = model.purpose == QrPurpose.IDENTIFY, onClick = { vm.launch { model.selectPurpose(QrPurpose.IDENTIFY) } },
                        label = { Text(stringResource(R.string.qr_purpose_identify)) })
                    FilterChip(selected = model.purpose == QrPurpose.SETTLE, onClick = { vm.launch { model.selectPurpose(QrPurpose.SETTLE) } },
                        label = { Text(stringResource(R.string.qr_purpose_settle)) })
                }
                QrImage(s.code, Modifier.fillMaxWidth().aspectRatio(1f))
                Text(stringResource(R.string.qr_seconds_left, s.secondsLeft))
            }
            is QrScreenState.Failed -> {
                Text(text(s.problem.message), color = MaterialTheme.colorScheme.error)
                if (s.problem.recovery == Recovery.RETRY || s.problem.recovery == Recovery.NONE) {
                    Button(onClick = { vm.launch { model.refresh() } }) { Text(stringResource(R.string.action_retry)) }
                }
            }
        }
    }
}

@Composable
private fun PinField(value: String, onChange: (String) -> Unit) {
    OutlinedTextField(
        value = value,
        onValueChange = { onChange(it.filter(Char::isDigit).take(6)) },
        visualTransformation = PasswordVisualTransformation(),
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.NumberPassword),
        singleLine = true,
    )
}

/** The modules, dark on white, with the 4-module quiet zone; always left-to-right. */
@Composable
fun QrImage(code: QrCode, modifier: Modifier) {
    val width = code.width.toInt()
    Canvas(modifier.background(Color.White)) {
        val cell = size.width / (width + 8)
        for (y in 0 until width) for (x in 0 until width) {
            if (code.modules[y * width + x].toInt() == 1) {
                drawRect(Color.Black, Offset((x + 4) * cell, (y + 4) * cell), Size(cell + 0.5f, cell + 0.5f))
            }
        }
    }
}

/** Full brightness and screen on while the code shows; restored after. */
@Composable
private fun FullBrightness(activity: FragmentActivity) {
    DisposableEffect(activity) {
        val window = activity.window
        val before = window.attributes.screenBrightness
        window.attributes = window.attributes.apply { screenBrightness = WindowManager.LayoutParams.BRIGHTNESS_OVERRIDE_FULL }
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        onDispose {
            window.attributes = window.attributes.apply { screenBrightness = before }
            window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        }
    }
}

private fun askBiometric(activity: FragmentActivity, title: String, subtitle: String, cancel: String, onSuccess: () -> Unit) {
    val prompt = BiometricPrompt(activity, ContextCompat.getMainExecutor(activity), object : BiometricPrompt.AuthenticationCallback() {
        override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) = onSuccess()
    })
    prompt.authenticate(
        BiometricPrompt.PromptInfo.Builder()
            .setTitle(title)
            .setSubtitle(subtitle)
            .setNegativeButtonText(cancel)
            .setAllowedAuthenticators(androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG)
            .build(),
    )
}
