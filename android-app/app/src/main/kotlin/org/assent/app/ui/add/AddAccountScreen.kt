// Add an account: scan a QR (the portal's one QR also enrolls sign-in approvals), pick a
// picture of one, or type the key by hand.
package org.assent.app.ui.add

import android.Manifest
import android.content.pm.PackageManager
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.pluralStringResource
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import org.assent.app.AppEnvironment
import org.assent.app.R
import org.assent.app.ui.BackTopBar
import org.assent.app.ui.rememberLockAwareLauncher
import org.assent.core.ImportReport
import org.assent.presentation.AddAccountAction
import org.assent.presentation.AddAccountState
import org.assent.presentation.AddPhase

@Composable
fun AddAccountRoute(environment: AppEnvironment, onDone: () -> Unit) {
    val viewModel: AddAccountViewModel = viewModel { AddAccountViewModel(environment) }
    val state by viewModel.state.collectAsStateWithLifecycle()
    val fileError by viewModel.fileError.collectAsStateWithLifecycle()
    val context = LocalContext.current
    var scanning by rememberSaveable { mutableStateOf(false) }
    var cameraRefused by rememberSaveable { mutableStateOf(false) }
    val askCamera = rememberLockAwareLauncher(ActivityResultContracts.RequestPermission(), environment.appLock) { granted ->
        scanning = granted
        cameraRefused = !granted
    }
    val pickImage = rememberLockAwareLauncher(ActivityResultContracts.PickVisualMedia(), environment.appLock) { uri ->
        if (uri != null) viewModel.picked(uri)
    }
    AddAccountScreen(
        state = state,
        scanning = scanning,
        notice = when {
            fileError != null -> stringResource(fileError ?: R.string.file_unreadable)
            cameraRefused -> stringResource(R.string.camera_refused)
            else -> null
        },
        onScan = {
            val granted = ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED
            if (granted) scanning = true else askCamera(Manifest.permission.CAMERA)
        },
        onScanned = { text ->
            scanning = false
            viewModel.scanned(text)
        },
        onStopScanning = { scanning = false },
        onPickImage = { pickImage(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly)) },
        onPassword = viewModel::password,
        onAction = viewModel::onAction,
        onSave = viewModel::save,
        onDone = onDone,
    )
}

@Composable
fun AddAccountScreen(
    state: AddAccountState,
    scanning: Boolean,
    notice: String?,
    onScan: () -> Unit,
    onScanned: (String) -> Unit,
    onStopScanning: () -> Unit,
    onPickImage: () -> Unit,
    onPassword: (String) -> Unit,
    onAction: (AddAccountAction) -> Unit,
    onSave: () -> Unit,
    onDone: () -> Unit,
) {
    Scaffold(topBar = { BackTopBar(stringResource(R.string.add_account), onBack = onDone) }) { padding ->
        Column(
            Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            val error = state.error ?: notice
            if (error != null) Text(error, color = MaterialTheme.colorScheme.error)
            when (state.phase) {
                is AddPhase.Enrolled -> Done(stringResource(R.string.enrolled), onDone)
                is AddPhase.Added -> Done(stringResource(R.string.account_added), onDone)
                AddPhase.Imported -> Imported(state.imported, onDone)
                AddPhase.Working -> Working()
                AddPhase.NeedsPassword -> PasswordPrompt(onPassword)
                AddPhase.Editing -> {
                    if (scanning) {
                        Scanner(onScanned, onStopScanning)
                    } else {
                        Sources(onScan, onPickImage)
                    }
                    HorizontalDivider()
                    ManualEntryForm(state.entry, state.fieldErrors, onAction, onSave)
                }
            }
        }
    }
}

@Composable
private fun Sources(onScan: () -> Unit, onPickImage: () -> Unit) {
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Button(onClick = onScan, modifier = Modifier.fillMaxWidth()) { Text(stringResource(R.string.scan_qr)) }
        OutlinedButton(onClick = onPickImage, modifier = Modifier.fillMaxWidth()) { Text(stringResource(R.string.choose_picture)) }
    }
}

@Composable
private fun Scanner(onScanned: (String) -> Unit, onStop: () -> Unit) {
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        QrScanner(onFound = onScanned, modifier = Modifier.fillMaxWidth().aspectRatio(3f / 4f))
        Text(stringResource(R.string.scan_hint), color = MaterialTheme.colorScheme.onSurfaceVariant)
        OutlinedButton(onClick = onStop, modifier = Modifier.fillMaxWidth()) { Text(stringResource(R.string.cancel)) }
    }
}

/** The check mark: an account was added, or this phone now approves sign-ins. */
@Composable
private fun Done(message: String, onDone: () -> Unit) {
    Column(
        Modifier.fillMaxWidth().padding(vertical = 32.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Icon(
            Icons.Filled.CheckCircle,
            contentDescription = null,
            tint = MaterialTheme.colorScheme.primary,
            modifier = Modifier.size(72.dp),
        )
        Text(message, style = MaterialTheme.typography.titleLarge)
        Button(onClick = onDone) { Text(stringResource(R.string.done)) }
    }
}

@Composable
private fun Imported(report: ImportReport?, onDone: () -> Unit) {
    val added = report?.added?.toInt() ?: 0
    Done(pluralStringResource(R.plurals.accounts_added, added, added), onDone)
    if (report == null) return
    if (report.duplicates.isNotEmpty()) {
        Text(stringResource(R.string.already_here, report.duplicates.joinToString(", ")))
    }
    for (skipped in report.skipped) Text(skipped, color = MaterialTheme.colorScheme.error)
    for (missing in report.missingParts) Text(stringResource(R.string.still_to_scan, missing))
}

@Composable
private fun Working() {
    Box(Modifier.fillMaxWidth().padding(32.dp), contentAlignment = Alignment.Center) {
        Column(horizontalAlignment = Alignment.CenterHorizontally, verticalArrangement = Arrangement.spacedBy(16.dp)) {
            CircularProgressIndicator()
            Text(stringResource(R.string.enrolling))
        }
    }
}

@Composable
private fun PasswordPrompt(onPassword: (String) -> Unit) {
    var password by rememberSaveable { mutableStateOf("") }
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(stringResource(R.string.export_encrypted), style = MaterialTheme.typography.titleMedium)
        OutlinedTextField(
            value = password,
            onValueChange = { password = it },
            label = { Text(stringResource(R.string.password)) },
            singleLine = true,
            visualTransformation = PasswordVisualTransformation(),
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password),
            modifier = Modifier.fillMaxWidth(),
        )
        Button(onClick = { onPassword(password) }, enabled = password.isNotEmpty(), modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.import_action))
        }
    }
}
