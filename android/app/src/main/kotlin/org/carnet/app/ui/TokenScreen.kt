// Consult tokens: make one (online, or on the phone offline), the history.
package org.carnet.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.carnet.app.R
import org.carnet.shell.TokenScreenModel

@Composable
fun TokenScreen(model: TokenScreenModel, vm: ShellViewModel) {
    val state by model.state.collectAsState()
    LaunchedEffect(model) { model.load() }
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.tokens_title), style = MaterialTheme.typography.headlineSmall)
        state.latest?.let { Text(it.code, style = MaterialTheme.typography.displayLarge) }
        OutlinedTextField(state.practice, model::setPractice, label = { Text(stringResource(R.string.token_practice_hint)) }, modifier = Modifier.fillMaxWidth())
        Button(enabled = !state.busy, onClick = { vm.launch { model.makeToken() } }) { Text(stringResource(R.string.action_make_token)) }
        OutlinedButton(enabled = !state.busy, onClick = { vm.launch { model.sync() } }) { Text(stringResource(R.string.action_sync)) }
        if (state.disabled) {
            Text(stringResource(R.string.tokens_disabled))
            Button(onClick = { vm.launch { model.reEnable() } }) { Text(stringResource(R.string.action_re_enable)) }
        }
        state.message?.let { Text(text(it)) }
        LazyColumn {
            items(state.rows) { row ->
                ListItem(
                    headlineContent = { Text(row.code) },
                    supportingContent = { Text(listOfNotNull(row.practice, text(row.status)).joinToString(" · ")) },
                    trailingContent = {
                        Column {
                            row.hoursLeft?.let { Text(stringResource(R.string.token_hours_left, it)) }
                            if (row.offline) Text(stringResource(R.string.token_offline_badge))
                        }
                    },
                )
            }
        }
    }
}
