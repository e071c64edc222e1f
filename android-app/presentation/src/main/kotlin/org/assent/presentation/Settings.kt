// The settings screen: theme, FLAG_SECURE, app lock, verification before approving, and
// backups (export, import, automatic versions copied to a folder the user chose).
package org.assent.presentation

import java.io.File
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.assent.core.AssentException
import org.assent.core.BackupStatusView
import org.assent.core.BackupVersionView
import org.assent.core.ImportReport
import org.assent.core.Store
import org.assent.core.backupVersions

enum class Theme { SYSTEM, LIGHT, DARK }

/** The user's choices, kept in Preferences. */
data class AppSettings(
    val theme: Theme = Theme.SYSTEM,
    /** Material You colours from the wallpaper (Android 12+). */
    val dynamicColor: Boolean = true,
    /** `FLAG_SECURE`: no screenshots, recordings or app-switcher previews. On by default. */
    val secureScreen: Boolean = true,
    /** A biometric or the screen lock to open the app. */
    val appLock: Boolean = false,
    /** A biometric or the screen lock before every approval, even when the portal does not ask. */
    val verifyBeforeApprove: Boolean = false,
) {
    internal fun save(preferences: Preferences) {
        preferences.set("settings.theme", theme.name)
        preferences.set("settings.dynamic-color", dynamicColor.toString())
        preferences.set("settings.secure-screen", secureScreen.toString())
        preferences.set("settings.app-lock", appLock.toString())
        preferences.set("settings.verify-before-approve", verifyBeforeApprove.toString())
    }

    companion object {
        fun load(preferences: Preferences): AppSettings {
            val defaults = AppSettings()
            fun flag(key: String, default: Boolean) = preferences.string(key)?.toBooleanStrictOrNull() ?: default
            return AppSettings(
                theme = Theme.entries.firstOrNull { it.name == preferences.string("settings.theme") } ?: defaults.theme,
                dynamicColor = flag("settings.dynamic-color", defaults.dynamicColor),
                secureScreen = flag("settings.secure-screen", defaults.secureScreen),
                appLock = flag("settings.app-lock", defaults.appLock),
                verifyBeforeApprove = flag("settings.verify-before-approve", defaults.verifyBeforeApprove),
            )
        }
    }
}

/**
 * A folder the user chose through the Storage Access Framework (`ACTION_OPEN_DOCUMENT_TREE`,
 * a persisted permission; DocumentsContract in the app). The core cannot write to a content
 * URI, so it writes versions into the app's own staging folder and [BackupMirror] copies them.
 */
interface BackupDestination {
    /** What the settings screen shows (`Drive › Backups`). */
    val displayName: String

    fun list(): List<String>

    fun write(fileName: String, data: ByteArray)

    fun delete(fileName: String)
}

/** Keeps the destination holding the versions the core keeps in `staging`: copies new ones and
 *  removes the ones the core pruned (only ours, `assent-backup-*`). */
class BackupMirror(private val staging: File, private val destination: BackupDestination) {
    /** Returns how many files were copied. */
    fun sync(): Int {
        val kept = backupVersions(staging.path).map { File(it.path).name }.toSet()
        var copied = 0
        try {
            val there = destination.list().filter { it.startsWith(PREFIX) }.toSet()
            for (name in kept - there) {
                destination.write(name, File(staging, name).readBytes())
                copied++
            }
            for (name in there - kept) destination.delete(name)
        } catch (e: java.io.IOException) {
            throw AssentException.Storage(UNWRITABLE)
        } catch (e: SecurityException) {
            // The folder's permission was revoked, or the folder is gone.
            throw AssentException.Storage(UNWRITABLE)
        }
        return copied
    }

    private companion object {
        const val PREFIX = "assent-backup-"
        const val UNWRITABLE = "The backup folder could not be written. Choose it again in Settings."
    }
}

data class SettingsState(
    val settings: AppSettings,
    val backup: BackupStatusView? = null,
    /** Where the versions are copied, when a folder was chosen. */
    val backupFolder: String? = null,
    val versions: List<BackupVersionView> = emptyList(),
    /** The encrypted backup just made, for the share sheet or a file the user creates. */
    val exported: ByteArray? = null,
    /** A file being imported needs its password. */
    val importNeedsPassword: Boolean = false,
    /** What the last import or restore did. */
    val imported: ImportReport? = null,
    val error: String? = null,
) {
    /** Nothing leaves the phone: what the privacy row says. */
    val privacy: String get() = PRIVACY

    companion object {
        const val PRIVACY =
            "Assent collects nothing. Your accounts stay on this phone and in the backups you choose."
    }
}

sealed interface SettingsAction {
    data class SetTheme(val theme: Theme) : SettingsAction

    data class SetDynamicColor(val on: Boolean) : SettingsAction

    data class SetSecureScreen(val on: Boolean) : SettingsAction

    data class SetVerifyBeforeApprove(val on: Boolean) : SettingsAction

    data object DisableAppLock : SettingsAction

    data object DisableBackups : SettingsAction

    /** Re-read the backup status and versions (the screen appears). */
    data object Refresh : SettingsAction

    /** The user closed the import (its password prompt or its report). */
    data object DismissImport : SettingsAction

    /** The exported backup was saved or shared: forget it. */
    data object DismissExport : SettingsAction
}

sealed interface SettingsEffect {
    /** Turning app lock on needs a confirmation first. */
    data object EnableAppLock : SettingsEffect

    /** Argon2id: run off the main thread. */
    data class EnableBackups(val destination: BackupDestination, val passphrase: String, val keep: Int) :
        SettingsEffect

    data class Export(val passphrase: String) : SettingsEffect

    /** A file the user picked (an export of this or another app, or a backup version); the
     *  password when it asked for one. */
    class Import(val data: ByteArray, val password: String?) : SettingsEffect
}

/** The one place the settings screen's state changes. `staging` is where the core writes
 *  backup versions before they are copied to the user's folder. */
class SettingsModel(
    private val store: Store,
    private val preferences: Preferences,
    private val biometrics: Biometrics,
    private val staging: File,
    /** The folder chosen before (the persisted SAF permission), if any. */
    private var destination: BackupDestination?,
) {
    private val mutableState = MutableStateFlow(SettingsState(AppSettings.load(preferences)))
    val state: StateFlow<SettingsState> = mutableState.asStateFlow()

    init {
        onAction(SettingsAction.Refresh)
    }

    fun onAction(action: SettingsAction) {
        mutableState.update { it.copy(error = null) }
        when (action) {
            is SettingsAction.SetTheme -> change { it.copy(theme = action.theme) }
            is SettingsAction.SetDynamicColor -> change { it.copy(dynamicColor = action.on) }
            is SettingsAction.SetSecureScreen -> change { it.copy(secureScreen = action.on) }
            is SettingsAction.SetVerifyBeforeApprove -> change { it.copy(verifyBeforeApprove = action.on) }
            SettingsAction.DisableAppLock -> change { it.copy(appLock = false) }
            SettingsAction.DisableBackups -> {
                attempt { store.disableAutoBackup() }
                destination = null
                refresh()
            }
            SettingsAction.Refresh -> refresh()
            SettingsAction.DismissImport -> mutableState.update { it.copy(importNeedsPassword = false, imported = null) }
            SettingsAction.DismissExport -> mutableState.update { it.copy(exported = null) }
        }
    }

    /** Reads the backup status and versions again, and copies versions written since the
     *  screen was last seen (after changes) to the chosen folder. */
    private fun refresh() = attempt {
        val status = store.backupStatus()
        if (status != null) destination?.let { BackupMirror(staging, it).sync() }
        mutableState.update {
            it.copy(
                backup = status, backupFolder = destination?.displayName,
                versions = status?.let { s -> backupVersions(s.folder) } ?: emptyList(),
            )
        }
    }

    suspend fun perform(effect: SettingsEffect) {
        mutableState.update { it.copy(error = null) }
        when (effect) {
            SettingsEffect.EnableAppLock -> when (biometrics.verify("Lock Assent")) {
                VerificationResult.VERIFIED -> change { it.copy(appLock = true) }
                VerificationResult.REFUSED -> mutableState.update {
                    it.copy(error = "Your fingerprint, face or screen lock was not confirmed. App lock stays off.")
                }
                VerificationResult.UNAVAILABLE -> mutableState.update {
                    it.copy(error = "Set up a fingerprint, face or screen lock first.")
                }
            }
            is SettingsEffect.EnableBackups -> {
                attempt {
                    staging.mkdirs()
                    store.enableAutoBackup(staging.path, effect.keep.coerceAtLeast(1).toUInt(), effect.passphrase)
                    destination = effect.destination
                }
                refresh()
            }
            is SettingsEffect.Export -> attempt {
                val bytes = store.exportBackup(effect.passphrase)
                mutableState.update { it.copy(exported = bytes) }
            }
            is SettingsEffect.Import -> try {
                val report = store.importData(effect.data, effect.password)
                mutableState.update { it.copy(imported = report, importNeedsPassword = false) }
            } catch (e: AssentException.PasswordRequired) {
                mutableState.update { it.copy(importNeedsPassword = true) }
            } catch (e: AssentException.WrongPassword) {
                mutableState.update { it.copy(importNeedsPassword = true, error = userMessage(e)) }
            } catch (e: Exception) {
                mutableState.update { it.copy(importNeedsPassword = false, error = userMessage(e)) }
            }
        }
    }

    private fun change(edit: (AppSettings) -> AppSettings) {
        val settings = edit(state.value.settings)
        settings.save(preferences)
        mutableState.update { it.copy(settings = settings) }
    }

    private inline fun attempt(body: () -> Unit) {
        try {
            body()
        } catch (e: Exception) {
            mutableState.update { it.copy(error = userMessage(e)) }
        }
    }
}
