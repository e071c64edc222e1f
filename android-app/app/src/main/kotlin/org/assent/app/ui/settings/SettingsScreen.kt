// Settings: theme, screen security, app lock, verification before approving, backups
// (automatic, export, import), privacy, version and licences.
package org.assent.app.ui.settings

import android.net.Uri
import android.os.Build
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.selection.toggleable
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.pluralStringResource
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import java.text.DateFormat
import java.util.Date
import org.assent.app.AppEnvironment
import org.assent.app.BuildConfig
import org.assent.app.R
import org.assent.app.ui.BackTopBar
import org.assent.app.ui.rememberLockAwareLauncher
import org.assent.core.BackupVersionView
import org.assent.presentation.SettingsAction
import org.assent.presentation.SettingsState
import org.assent.presentation.Theme

@Composable
fun SettingsRoute(environment: AppEnvironment, onLicences: () -> Unit, onBack: () -> Unit) {
    val viewModel: SettingsViewModel = viewModel { SettingsViewModel(environment) }
    val state by viewModel.state.collectAsStateWithLifecycle()
    val busy by viewModel.busy.collectAsStateWithLifecycle()
    val exportToSave by viewModel.exportToSave.collectAsStateWithLifecycle()
    val fileError by viewModel.fileError.collectAsStateWithLifecycle()
    val askImportPassword by viewModel.askImportPassword.collectAsStateWithLifecycle()

    // Dialogs: which one is open, and the folder waiting for its passphrase.
    var chosenFolder by rememberSaveable { mutableStateOf<Uri?>(null) }
    var exporting by rememberSaveable { mutableStateOf(false) }

    val chooseFolder = rememberLockAwareLauncher(ActivityResultContracts.OpenDocumentTree(), environment.appLock) { uri ->
        chosenFolder = uri
    }
    val chooseImport = rememberLockAwareLauncher(ActivityResultContracts.OpenDocument(), environment.appLock) { uri ->
        if (uri != null) viewModel.import(uri)
    }
    val chooseExportFile = rememberLockAwareLauncher(
        ActivityResultContracts.CreateDocument("application/octet-stream"), environment.appLock,
    ) { uri -> viewModel.saveExport(uri) }

    LaunchedEffect(exportToSave) { if (exportToSave != null) chooseExportFile(EXPORT_FILE_NAME) }
    LaunchedEffect(Unit) { viewModel.onAction(SettingsAction.Refresh) }

    Scaffold(topBar = { BackTopBar(stringResource(R.string.settings), onBack) }) { padding ->
        val current = state
        if (current == null) {
            Column(Modifier.padding(padding).fillMaxSize(), verticalArrangement = Arrangement.Center, horizontalAlignment = Alignment.CenterHorizontally) {
                CircularProgressIndicator()
            }
        } else {
            SettingsScreen(
                state = current,
                busy = busy,
                fileError = fileError?.let { stringResource(it) },
                modifier = Modifier.padding(padding),
                onAction = viewModel::onAction,
                onAppLock = { on -> if (on) viewModel.enableAppLock() else viewModel.onAction(SettingsAction.DisableAppLock) },
                onChooseFolder = { chooseFolder(null) },
                onRestore = viewModel::restore,
                onExport = { exporting = true },
                onImport = { chooseImport(arrayOf("*/*")) },
                onLicences = onLicences,
            )
            if (askImportPassword) {
                PassphraseDialog(
                    title = stringResource(R.string.export_encrypted),
                    confirm = stringResource(R.string.import_action),
                    onConfirm = viewModel::importPassword,
                    onDismiss = viewModel::cancelImport,
                    error = current.error,
                )
            }
        }
    }
    chosenFolder?.let { folder ->
        PassphraseDialog(
            title = stringResource(R.string.backup_passphrase_title),
            confirm = stringResource(R.string.turn_on),
            onConfirm = { passphrase ->
                chosenFolder = null
                viewModel.enableBackups(folder, passphrase)
            },
            onDismiss = { chosenFolder = null },
        )
    }
    if (exporting) {
        PassphraseDialog(
            title = stringResource(R.string.export_passphrase_title),
            confirm = stringResource(R.string.export_action),
            onConfirm = { passphrase ->
                exporting = false
                viewModel.export(passphrase)
            },
            onDismiss = { exporting = false },
        )
    }
}

@Composable
fun SettingsScreen(
    state: SettingsState,
    busy: Boolean,
    fileError: String?,
    modifier: Modifier,
    onAction: (SettingsAction) -> Unit,
    onAppLock: (Boolean) -> Unit,
    onChooseFolder: () -> Unit,
    onRestore: (BackupVersionView) -> Unit,
    onExport: () -> Unit,
    onImport: () -> Unit,
    onLicences: () -> Unit,
) {
    val settings = state.settings
    Column(modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(vertical = 8.dp)) {
        if (busy) LinearProgressIndicator(Modifier.fillMaxWidth())
        (state.error ?: fileError)?.let { message ->
            Text(message, color = MaterialTheme.colorScheme.error, modifier = Modifier.padding(16.dp))
        }

        Heading(R.string.appearance)
        for ((theme, label) in listOf(Theme.SYSTEM to R.string.theme_system, Theme.LIGHT to R.string.theme_light, Theme.DARK to R.string.theme_dark)) {
            Row(
                Modifier.fillMaxWidth()
                    .selectable(selected = settings.theme == theme, role = Role.RadioButton) { onAction(SettingsAction.SetTheme(theme)) }
                    .padding(horizontal = 16.dp, vertical = 4.dp),
                verticalAlignment = Alignment.CenterVertically,
            ) {
                RadioButton(selected = settings.theme == theme, onClick = null)
                Text(stringResource(label), modifier = Modifier.padding(start = 12.dp))
            }
        }
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            SwitchRow(R.string.dynamic_color, null, settings.dynamicColor) { onAction(SettingsAction.SetDynamicColor(it)) }
        }

        Heading(R.string.security)
        SwitchRow(R.string.secure_screen, R.string.secure_screen_hint, settings.secureScreen) {
            onAction(SettingsAction.SetSecureScreen(it))
        }
        SwitchRow(R.string.app_lock, R.string.app_lock_hint, settings.appLock, onAppLock)
        SwitchRow(R.string.verify_before_approve, R.string.verify_before_approve_hint, settings.verifyBeforeApprove) {
            onAction(SettingsAction.SetVerifyBeforeApprove(it))
        }

        Heading(R.string.backups)
        Backups(state, busy, onAction, onChooseFolder, onRestore)
        Row(Modifier.padding(horizontal = 16.dp), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedButton(onClick = onExport, enabled = !busy) { Text(stringResource(R.string.export_backup)) }
            OutlinedButton(onClick = onImport, enabled = !busy) { Text(stringResource(R.string.import_accounts)) }
        }
        state.imported?.let { report ->
            val added = report.added.toInt()
            Text(
                pluralStringResource(R.plurals.accounts_added, added, added),
                modifier = Modifier.padding(horizontal = 16.dp, vertical = 8.dp),
            )
        }

        Heading(R.string.privacy)
        Text(state.privacy, modifier = Modifier.padding(horizontal = 16.dp))

        Heading(R.string.about)
        ListItem(
            headlineContent = { Text(stringResource(R.string.version)) },
            supportingContent = { Text(BuildConfig.VERSION_NAME) },
        )
        ListItem(
            headlineContent = { Text(stringResource(R.string.licences)) },
            supportingContent = { Text(stringResource(R.string.licences_hint)) },
            modifier = Modifier.clickable(onClick = onLicences),
        )
    }
}

@Composable
private fun Backups(
    state: SettingsState,
    busy: Boolean,
    onAction: (SettingsAction) -> Unit,
    onChooseFolder: () -> Unit,
    onRestore: (BackupVersionView) -> Unit,
) {
    val backup = state.backup
    Column(Modifier.padding(horizontal = 16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        if (backup == null) {
            Text(stringResource(R.string.backups_off_hint), color = MaterialTheme.colorScheme.onSurfaceVariant)
            Button(onClick = onChooseFolder, enabled = !busy) { Text(stringResource(R.string.backups_choose_folder)) }
            return@Column
        }
        Text(stringResource(R.string.backups_folder, state.backupFolder ?: stringResource(R.string.backups_folder_none)))
        backup.lastSuccessAt?.let { Text(stringResource(R.string.backups_last, formatTime(it))) }
        backup.lastFailure?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        if (state.backupFolder == null) {
            OutlinedButton(onClick = onChooseFolder, enabled = !busy) { Text(stringResource(R.string.backups_choose_folder)) }
        }
        Text(stringResource(R.string.backups_versions), style = MaterialTheme.typography.labelLarge)
        for (version in state.versions) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                Text(formatTime(version.time), modifier = Modifier.weight(1f))
                TextButton(onClick = { onRestore(version) }, enabled = !busy) { Text(stringResource(R.string.restore)) }
            }
        }
        TextButton(onClick = { onAction(SettingsAction.DisableBackups) }, enabled = !busy) {
            Text(stringResource(R.string.backups_turn_off), color = MaterialTheme.colorScheme.error)
        }
        HorizontalDivider()
    }
}

@Composable
private fun Heading(title: Int) {
    Text(
        stringResource(title),
        style = MaterialTheme.typography.titleSmall,
        color = MaterialTheme.colorScheme.primary,
        modifier = Modifier.padding(start = 16.dp, end = 16.dp, top = 24.dp, bottom = 8.dp),
    )
}

@Composable
private fun SwitchRow(title: Int, hint: Int?, checked: Boolean, onChange: (Boolean) -> Unit) {
    ListItem(
        headlineContent = { Text(stringResource(title)) },
        supportingContent = if (hint != null) { { Text(stringResource(hint)) } } else null,
        trailingContent = { Switch(checked = checked, onCheckedChange = null) },
        modifier = Modifier.toggleable(value = checked, role = Role.Switch, onValueChange = onChange),
    )
}

/** A passphrase typed for an export, a backup or an import; the core judges it. */
@Composable
private fun PassphraseDialog(
    title: String,
    confirm: String,
    onConfirm: (String) -> Unit,
    onDismiss: () -> Unit,
    error: String? = null,
) {
    var passphrase by rememberSaveable { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(title) },
        text = {
            OutlinedTextField(
                value = passphrase,
                onValueChange = { passphrase = it },
                label = { Text(stringResource(R.string.password)) },
                isError = error != null,
                supportingText = if (error != null) { { Text(error) } } else null,
                singleLine = true,
                visualTransformation = PasswordVisualTransformation(),
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
            )
        },
        confirmButton = {
            TextButton(onClick = { onConfirm(passphrase) }, enabled = passphrase.isNotEmpty()) { Text(confirm) }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.cancel)) } },
    )
}

private fun formatTime(unixSeconds: ULong): String =
    DateFormat.getDateTimeInstance(DateFormat.MEDIUM, DateFormat.SHORT).format(Date(unixSeconds.toLong() * 1_000))

private const val EXPORT_FILE_NAME = "assent-backup.json"
