// The settings screen's ViewModel over SettingsModel.
package org.assent.app.ui.settings

import android.net.Uri
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.stateIn
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.assent.app.AppEnvironment
import org.assent.app.R
import org.assent.core.BackupVersionView
import org.assent.presentation.SettingsAction
import org.assent.presentation.SettingsEffect
import org.assent.presentation.SettingsModel
import org.assent.presentation.SettingsState

/**
 * Everything the model does runs on Dispatchers.IO, one call at a time (the model is not
 * made for concurrent calls): its refresh copies backup versions into the chosen folder,
 * which may be a cloud provider's, and export, import and turning backups on run Argon2id.
 * Even the model is made there, since making it refreshes.
 */
class SettingsViewModel(private val environment: AppEnvironment) : ViewModel() {
    private val serial = Mutex()
    private val model = viewModelScope.async(Dispatchers.IO) {
        SettingsModel(
            environment.store, environment.preferences, environment.biometrics, environment.backupStaging,
            environment.backupFolders.current(),
        )
    }

    /** Null until the model is made (a moment; longer when the folder is slow). */
    val state: StateFlow<SettingsState?> = flow { emitAll(model.await().state) }
        .stateIn(viewModelScope, SharingStarted.Eagerly, null)

    private val mutableBusy = MutableStateFlow(false)

    /** Argon2id is running (export, import, turning backups on). */
    val busy: StateFlow<Boolean> = mutableBusy.asStateFlow()

    private val mutableExport = MutableStateFlow<ByteArray?>(null)

    /** An export made and not yet saved: the screen asks where (CreateDocument). */
    val exportToSave: StateFlow<ByteArray?> = mutableExport.asStateFlow()

    private val mutableFileError = MutableStateFlow<Int?>(null)

    /** A file the model never saw: it could not be read or written. */
    val fileError: StateFlow<Int?> = mutableFileError.asStateFlow()

    private val mutableAskPassword = MutableStateFlow(false)

    /** The file being imported is encrypted: the screen asks for its password until it is
     *  right or the user cancels. */
    val askImportPassword: StateFlow<Boolean> = mutableAskPassword.asStateFlow()

    /** The file being imported, kept for its password. */
    private var importing: ByteArray? = null

    fun onAction(action: SettingsAction) = withModel { model ->
        model.onAction(action)
        when (action) {
            SettingsAction.DisableBackups -> environment.backupFolders.forget()
            SettingsAction.DisableAppLock -> environment.appLock.unlock()
            else -> Unit
        }
    }

    fun enableAppLock() = withModel { it.perform(SettingsEffect.EnableAppLock) }

    /** The folder came back from the tree picker; the passphrase seals every version. */
    fun enableBackups(folder: Uri, passphrase: String) = slow { model ->
        val destination = try {
            environment.backupFolders.keep(folder)
        } catch (e: SecurityException) {
            mutableFileError.value = R.string.folder_not_writable
            return@slow
        }
        model.perform(SettingsEffect.EnableBackups(destination, passphrase, KEPT_VERSIONS))
        if (model.state.value.backup == null) environment.backupFolders.forget()
    }

    fun export(passphrase: String) = slow { model ->
        model.perform(SettingsEffect.Export(passphrase))
        val state = model.state.value
        if (state.error == null) mutableExport.value = state.exported
    }

    /** Where the user chose to save the export; null when they cancelled. */
    fun saveExport(uri: Uri?) = withModel {
        val data = mutableExport.value
        mutableExport.value = null
        if (uri != null && data != null) {
            try {
                environment.documents.write(uri, data)
            } catch (e: Exception) {
                mutableFileError.value = R.string.file_unwritable
            }
        }
    }

    /** A file from the document picker: an export of Assent or another app. */
    fun import(uri: Uri) = slow { model ->
        val data = try {
            environment.documents.read(uri)
        } catch (e: Exception) {
            mutableFileError.value = R.string.file_unreadable
            return@slow
        }
        importData(model, data, null)
    }

    /** A version of the automatic backups (in the staging folder, the same as the copies). */
    fun restore(version: BackupVersionView) = slow { model ->
        val data = try {
            File(version.path).readBytes()
        } catch (e: Exception) {
            mutableFileError.value = R.string.file_unreadable
            return@slow
        }
        importData(model, data, null)
    }

    fun importPassword(password: String) = slow { model ->
        val data = importing ?: return@slow
        importData(model, data, password)
    }

    /** The password prompt was dismissed: the file is dropped. */
    fun cancelImport() {
        importing = null
        mutableAskPassword.value = false
    }

    private suspend fun importData(model: SettingsModel, data: ByteArray, password: String?) {
        importing = data
        model.perform(SettingsEffect.Import(data, password))
        val asks = model.state.value.importNeedsPassword
        mutableAskPassword.value = asks
        if (!asks) importing = null
    }

    private fun withModel(body: suspend (SettingsModel) -> Unit) {
        viewModelScope.launch(Dispatchers.IO) {
            val model = model.await()
            serial.withLock {
                mutableFileError.value = null
                body(model)
            }
        }
    }

    private fun slow(body: suspend (SettingsModel) -> Unit) = withModel { model ->
        mutableBusy.value = true
        try {
            body(model)
        } finally {
            mutableBusy.value = false
        }
    }

    private companion object {
        /** Versions of the automatic backups kept. */
        const val KEPT_VERSIONS = 10
    }
}
