// The requests list (statuses, returned reasons, sync with progress and
// cancel) and the leave, remote-care and claim forms with an attachment
// picker. Drafts autosave (shared RequestFormModel); leaving a form saves.
package org.carnet.app.ui

import android.net.Uri
import android.provider.OpenableColumns
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.carnet.app.R
import org.carnet.shell.AttachmentRef
import org.carnet.shell.ClaimForm
import org.carnet.shell.ClaimKind
import org.carnet.shell.FamilyRelation
import org.carnet.shell.LeaveForm
import org.carnet.shell.LeaveReason
import org.carnet.shell.RemoteCareForm
import org.carnet.shell.RemoteCareReason
import org.carnet.shell.RequestForm
import org.carnet.shell.RequestFormModel
import org.carnet.shell.UiText

@Composable
fun RequestsScreen(session: Session, vm: ShellViewModel) {
    var editing by remember { mutableStateOf<RequestFormModel<out RequestForm>?>(null) }
    val open = editing
    if (open != null) {
        DisposableEffect(open) { onDispose { vm.launch { open.saveNow() } } }
        RequestFormScreen(open, vm) { editing = null }
        return
    }
    val list = session.requests
    val state by list.state.collectAsState()
    LaunchedEffect(list) { list.load() }
    fun <F : RequestForm> new(form: F) { editing = RequestFormModel(form, session.requestsPort, vm.scheduling) }
    Column(Modifier.padding(24.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(stringResource(R.string.requests_title), style = MaterialTheme.typography.headlineSmall)
        OutlinedButton(onClick = { new(LeaveForm()) }) { Text(stringResource(R.string.action_new_leave)) }
        OutlinedButton(onClick = { new(RemoteCareForm()) }) { Text(stringResource(R.string.action_new_remote_care)) }
        OutlinedButton(onClick = { new(ClaimForm()) }) { Text(stringResource(R.string.action_new_claim)) }
        if (state.syncing) {
            state.progress?.let { p ->
                Text(stringResource(R.string.sync_progress, p.done, p.total))
                LinearProgressIndicator(progress = { if (p.total == 0) 0f else p.done.toFloat() / p.total }, modifier = Modifier.fillMaxWidth())
            }
            TextButton(onClick = { list.cancel() }) { Text(stringResource(R.string.action_cancel)) }
        } else {
            Button(onClick = { vm.launch { list.sync() } }) { Text(stringResource(R.string.action_sync)) }
        }
        state.message?.let { Text(text(it)) }
        state.unreadableMessage?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
        if (state.rows.isEmpty()) Text(stringResource(R.string.requests_empty))
        state.rows.forEach { row ->
            ListItem(
                headlineContent = { Text(text(row.kind)) },
                supportingContent = {
                    Column {
                        Text(text(row.status))
                        if (row.reasons.isNotEmpty()) {
                            Text(stringResource(R.string.returned_reasons_title), style = MaterialTheme.typography.labelMedium)
                            row.reasons.forEach { Text("• $it") }
                        }
                    }
                },
            )
        }
    }
}

@Composable
private fun <F : RequestForm> RequestFormScreen(model: RequestFormModel<F>, vm: ShellViewModel, close: () -> Unit) {
    val state by model.state.collectAsState()
    val context = LocalContext.current
    var attachInto by remember { mutableStateOf<((F, AttachmentRef) -> F)?>(null) }
    // Photos and PDFs through the system picker; bytes go into the vault (encrypted), not app files.
    val picker = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocument()) { uri: Uri? ->
        val into = attachInto ?: return@rememberLauncherForActivityResult
        if (uri == null) return@rememberLauncherForActivityResult
        vm.launch {
            val resolver = context.contentResolver
            val (bytes, name) = withContext(Dispatchers.IO) {
                val bytes = resolver.openInputStream(uri)?.use { it.readBytes() } ?: ByteArray(0)
                val name = resolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { c ->
                    if (c.moveToFirst()) c.getString(0) else null
                } ?: "attachment"
                bytes to name
            }
            model.attach(bytes, resolver.getType(uri) ?: "application/octet-stream", name, into)
        }
    }
    fun pick(into: (F, AttachmentRef) -> F) {
        attachInto = into
        picker.launch(arrayOf("image/jpeg", "image/png", "image/heic", "image/webp", "application/pdf"))
    }
    val errors = state.fieldErrors + model.amountProblems()
    Column(Modifier.padding(24.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(text(UiText("request_kind_${state.form.kind.wire}")), style = MaterialTheme.typography.headlineSmall)
        if (state.returnedReasons.isNotEmpty()) {
            Text(stringResource(R.string.returned_reasons_title), style = MaterialTheme.typography.titleSmall)
            state.returnedReasons.forEach { Text("• $it") }
        }
        @Suppress("UNCHECKED_CAST")
        when (val form = state.form) {
            is LeaveForm -> {
                val m = model as RequestFormModel<LeaveForm>
                Choice(R.string.label_leave_reason, LeaveReason.entries, form.reason, { "leave_reason_${it.wire}" }, errors["reason"]) { v -> m.edit { it.copy(reason = v) } }
                if (form.reason == LeaveReason.FAMILY_CARE) {
                    Choice(R.string.label_family_relation, FamilyRelation.entries, form.relation, { "relation_${it.wire}" }, null) { v -> m.edit { it.copy(relation = v) } }
                }
                Field(R.string.label_start_date, form.start, errors["start"]) { v -> m.edit { it.copy(start = v) } }
                Field(R.string.label_end_date, form.end, errors["end"]) { v -> m.edit { it.copy(end = v) } }
                Field(R.string.label_workplace, form.workplace, errors["workplace"]) { v -> m.edit { it.copy(workplace = v) } }
                Attachments(R.string.label_medical_certificate, listOfNotNull(form.medicalCertificate), errors["medical_certificate"]) {
                    pick { f, ref -> (f as LeaveForm).copy(medicalCertificate = ref) as F }
                }
            }
            is RemoteCareForm -> {
                val m = model as RequestFormModel<RemoteCareForm>
                Field(R.string.label_home_region, form.homeRegion, errors["home_region"]) { v -> m.edit { it.copy(homeRegion = v) } }
                Field(R.string.label_destination_region, form.destinationRegion, errors["destination_region"]) { v -> m.edit { it.copy(destinationRegion = v) } }
                Field(R.string.label_facility, form.facility, errors["facility"]) { v -> m.edit { it.copy(facility = v) } }
                Field(R.string.label_start_date, form.start, errors["start"]) { v -> m.edit { it.copy(start = v) } }
                Field(R.string.label_end_date, form.end, errors["end"]) { v -> m.edit { it.copy(end = v) } }
                Choice(R.string.label_remote_care_reason, RemoteCareReason.entries, form.reason, { "remote_care_reason_${it.wire}" }, errors["reason"]) { v -> m.edit { it.copy(reason = v) } }
                Field(R.string.label_details, form.details, errors["details"]) { v -> m.edit { it.copy(details = v) } }
                Attachments(R.string.label_attachments, form.attachments, errors["attachments"]) {
                    pick { f, ref -> (f as RemoteCareForm).let { it.copy(attachments = it.attachments + ref) } as F }
                }
            }
            is ClaimForm -> {
                val m = model as RequestFormModel<ClaimForm>
                Choice(R.string.label_claim_kind, ClaimKind.entries, form.claimKind, { "claim_kind_${it.wire}" }, errors["claim_kind"]) { v -> m.edit { it.copy(claimKind = v) } }
                form.items.forEachIndexed { i, item ->
                    fun set(change: (org.carnet.shell.ClaimItemInput) -> org.carnet.shell.ClaimItemInput) =
                        m.edit { f -> f.copy(items = f.items.mapIndexed { j, it -> if (j == i) change(it) else it }) }
                    Field(R.string.label_item_description, item.description, errors["items[$i].description"]) { v -> set { it.copy(description = v) } }
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        Field(R.string.label_item_amount, item.amount, errors["items[$i].amount_cents"], Modifier.weight(2f)) { v -> set { it.copy(amount = v) } }
                        Field(R.string.label_item_currency, item.currency, errors["items[$i].currency"], Modifier.weight(1f)) { v -> set { it.copy(currency = v.uppercase().take(3)) } }
                    }
                }
                errors["items"]?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
                TextButton(onClick = { model.addItem() }) { Text(stringResource(R.string.action_add_item)) }
                Attachments(R.string.label_receipts, form.receipts, errors["receipts"]) {
                    pick { f, ref -> (f as ClaimForm).let { it.copy(receipts = it.receipts + ref) } as F }
                }
            }
        }
        Text(stringResource(if (state.saved) R.string.draft_saved else R.string.draft_unsaved), style = MaterialTheme.typography.labelSmall)
        state.message?.let { Text(text(it)) }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedButton(onClick = { vm.launch { model.saveNow(); close() } }) { Text(stringResource(R.string.action_save_draft)) }
            Button(enabled = model.editable, onClick = { vm.launch { model.submit() } }) { Text(stringResource(R.string.action_submit)) }
        }
    }
}

@Composable
private fun Field(label: Int, value: String, error: UiText?, modifier: Modifier = Modifier.fillMaxWidth(), onChange: (String) -> Unit) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(stringResource(label)) },
        isError = error != null,
        supportingText = error?.let { { Text(text(it)) } },
        modifier = modifier,
    )
}

@Composable
private fun <T> Choice(label: Int, options: List<T>, selected: T?, key: (T) -> String, error: UiText?, onSelect: (T) -> Unit) {
    Text(stringResource(label), style = MaterialTheme.typography.labelLarge)
    Column {
        options.forEach { option ->
            FilterChip(selected = option == selected, onClick = { onSelect(option) }, label = { Text(text(UiText(key(option)))) })
        }
    }
    error?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
}

@Composable
private fun Attachments(label: Int, attached: List<AttachmentRef>, error: UiText?, onAttach: () -> Unit) {
    Text(stringResource(label), style = MaterialTheme.typography.labelLarge)
    attached.forEach { Text(it.fileName) }
    error?.let { Text(text(it), color = MaterialTheme.colorScheme.error) }
    OutlinedButton(onClick = onAttach) { Text(stringResource(R.string.action_attach)) }
}
