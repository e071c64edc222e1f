// The composition root: the vault with its Keystore-wrapped key, the device keys in the
// Keystore, HttpURLConnection to the portals, and the Android side of every platform interface.
package org.assent.app

import android.content.Context
import android.os.Build
import android.provider.Settings
import java.io.File
import org.assent.app.platform.AndroidDeviceKeystore
import org.assent.app.platform.AndroidKeyWrapper
import org.assent.app.platform.AppPreferences
import org.assent.app.platform.BackupFolders
import org.assent.app.platform.Documents
import org.assent.app.platform.ForegroundActivity
import org.assent.app.platform.MainThreadScheduler
import org.assent.app.platform.NotificationPermissionRequest
import org.assent.app.platform.ScreenLockBiometrics
import org.assent.app.platform.SystemClipboard
import org.assent.app.push.SignInNotifications
import org.assent.core.Store
import org.assent.presentation.AppSettings
import org.assent.presentation.BackupMirror
import org.assent.presentation.Biometrics
import org.assent.presentation.ClipboardGuard
import org.assent.presentation.Enroller
import org.assent.presentation.HttpPortalTransport
import org.assent.presentation.NotificationPermission
import org.assent.presentation.PortalTransport
import org.assent.presentation.PushCoordinator
import org.assent.presentation.WrappedVaultKey

/** What every screen, the FCM service and the action receiver share; one per process. */
class AppEnvironment private constructor(
    context: Context,
    val store: Store,
    val preferences: AppPreferences,
    foreground: ForegroundActivity,
) {
    val transport: PortalTransport = HttpPortalTransport()
    val push = PushCoordinator(store, transport, preferences)
    val appLock = AppLock { settings.appLock }
    val biometrics: Biometrics = ScreenLockBiometrics(foreground, appLock)
    val notificationPermission: NotificationPermission = NotificationPermissionRequest(context, foreground, appLock)

    /** One for the process, so a copy's 30 s timer survives leaving the list. */
    val clipboard = ClipboardGuard(SystemClipboard(context), MainThreadScheduler())
    val notifications = SignInNotifications(context)
    val documents = Documents(context)
    val backupFolders = BackupFolders(context, preferences)

    /** Where the core writes backup versions before they are copied to the user's folder (the
     *  core cannot write to a content URI). */
    val backupStaging = File(context.noBackupFilesDir, "backup-staging")

    /** What the portal's device list shows for this phone. */
    private val deviceName: String =
        Settings.Global.getString(context.contentResolver, Settings.Global.DEVICE_NAME)?.takeIf { it.isNotBlank() }
            ?: "${Build.MANUFACTURER} ${Build.MODEL}"

    /** The user's choices as saved now. */
    val settings: AppSettings get() = AppSettings.load(preferences)

    /** Enrollments keep their signing key in the Keystore (StrongBox when present). */
    fun enroller(): Enroller = Enroller(store, transport, deviceName, hardwareKey = true)

    /**
     * When the app goes to the background: the version the core's debounce held back is
     * written, and new versions are copied to the chosen folder. Blocking. A failure shows in
     * Settings (the core keeps the last one; the copy is tried again there).
     */
    fun flushBackups() {
        try {
            store.flushBackup() ?: return
            backupFolders.current()?.let { BackupMirror(backupStaging, it).sync() }
        } catch (e: Exception) {
            // Shown in Settings, see above.
        }
    }

    companion object {
        /** Opens the vault (`files/vault.assent`) with its key (`no_backup/vault.key`, wrapped by
         *  the Keystore key). Blocking: the Keystore unwraps the key. */
        fun open(application: AssentApplication): AppEnvironment {
            val key = WrappedVaultKey(File(application.noBackupFilesDir, "vault.key"), AndroidKeyWrapper)
            val vault = File(application.filesDir, "vault.assent")
            val store = Store.open(vault.path, key, AndroidDeviceKeystore(), null)
            return AppEnvironment(application, store, AppPreferences(application), application.foreground)
        }
    }
}
