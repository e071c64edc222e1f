// The notification permission, asked when the user sees why (at the first enrollment).
package org.assent.app.platform

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import androidx.activity.result.ActivityResultLauncher
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.ContextCompat
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.resume
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext
import org.assent.app.AppLock
import org.assent.presentation.NotificationPermission

/** `NotificationPermission`: POST_NOTIFICATIONS through an ActivityResult launcher on the
 *  activity on screen (Android 13+); granted without asking before 13. */
class NotificationPermissionRequest(
    private val context: Context,
    private val foreground: ForegroundActivity,
    private val appLock: AppLock,
) : NotificationPermission {
    private val requests = AtomicInteger()

    override suspend fun request(): Boolean {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return true
        val permission = Manifest.permission.POST_NOTIFICATIONS
        if (ContextCompat.checkSelfPermission(context, permission) == PackageManager.PERMISSION_GRANTED) return true
        return withContext(Dispatchers.Main.immediate) {
            val activity = foreground.await() ?: return@withContext false
            appLock.leaving()
            try {
                suspendCancellableCoroutine { continuation ->
                    lateinit var launcher: ActivityResultLauncher<String>
                    // Registered when needed (not in onCreate), and unregistered once answered.
                    launcher = activity.activityResultRegistry.register(
                        "assent.notification-permission.${requests.incrementAndGet()}",
                        ActivityResultContracts.RequestPermission(),
                    ) { granted ->
                        launcher.unregister()
                        if (continuation.isActive) continuation.resume(granted)
                    }
                    launcher.launch(permission)
                    continuation.invokeOnCancellation { activity.runOnUiThread { launcher.unregister() } }
                }
            } finally {
                appLock.returned()
            }
        }
    }
}
