// Coverage, devices (remove another), pharmacy purchases, logout.
package org.carnet.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import java.text.NumberFormat
import java.util.Currency
import org.carnet.app.R
import org.carnet.shell.AccountScreenModel

@Composable
fun AccountScreen(model: AccountScreenModel, vm: ShellViewModel) {
    val state by model.state.collectAsState()
    LaunchedEffect(model) { model.load() }
    LaunchedEffect(state.loggedOut) { if (state.loggedOut) vm.loggedOut() }
    Column(Modifier.padding(24.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(stringResource(R.string.account_title), style = MaterialTheme.typography.headlineSmall)
        state.account?.let { account ->
            Text(account.username)
            Text("${stringResource(R.string.label_plan)}: ${account.coverage.plan}")
            Text("${stringResource(R.string.label_region)}: ${account.coverage.region}")
            Text(stringResource(R.string.coverage_valid_until, account.coverage.validUntil))
        }
        Text(stringResource(R.string.devices_title), style = MaterialTheme.typography.titleMedium)
        state.devices.forEach { device ->
            ListItem(
                headlineContent = { Text(device.name) },
                supportingContent = {
                    when {
                        device.id == state.thisDeviceId -> Text(stringResource(R.string.this_device))
                        device.revokedAt != null -> Text(stringResource(R.string.revoked_label))
                        else -> Unit
                    }
                },
                trailingContent = {
                    if (device.id != state.thisDeviceId && device.revokedAt == null) {
                        TextButton(onClick = { vm.launch { model.revoke(device.id) } }) { Text(stringResource(R.string.action_revoke)) }
                    }
                },
            )
        }
        Text(stringResource(R.string.purchases_title), style = MaterialTheme.typography.titleMedium)
        state.transactions.forEach { t ->
            val money = NumberFormat.getCurrencyInstance().apply { currency = Currency.getInstance(t.currency) }
            ListItem(headlineContent = { Text(t.pharmacyName) }, trailingContent = { Text(money.format(t.amountCents / 100.0)) })
        }
        state.message?.let { Text(text(it)) }
        Text(stringResource(R.string.logout_warning))
        OutlinedButton(enabled = !state.busy, onClick = { vm.launch { model.logOut() } }) { Text(stringResource(R.string.action_log_out)) }
    }
}
