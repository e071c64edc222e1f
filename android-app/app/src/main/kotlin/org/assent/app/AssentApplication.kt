// The process: the notification channel, the activity tracker, Firebase, and the vault opened
// once for the activity, the FCM service and the action receiver alike.
package org.assent.app

import android.app.Application
import com.google.firebase.FirebaseApp
import com.google.firebase.FirebaseOptions
import com.google.firebase.messaging.FirebaseMessaging
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import org.assent.app.platform.ForegroundActivity
import org.assent.app.push.SignInNotifications

class AssentApplication : Application() {
    /** The activity on screen, for BiometricPrompt and the permission dialog. */
    val foreground = ForegroundActivity()

    /** Work that outlives a screen: token updates, answers from the notification, backups. */
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)

    /**
     * The vault and everything over it, opened on first use (the FCM service may start the
     * process for one message). A failure (the Keystore key is gone, the file is damaged) is
     * kept and shown by the activity.
     */
    val environment: Result<AppEnvironment> by lazy { runCatching { AppEnvironment.open(this) } }

    override fun onCreate() {
        super.onCreate()
        registerActivityLifecycleCallbacks(foreground)
        SignInNotifications(this).createChannel()
        if (startFirebase()) sendCurrentToken()
    }

    /**
     * Firebase from the values the build was given (app/build.gradle.kts), with no
     * google-services.json: each build configures its own project, or none (then requests are
     * found only when the app is opened). Returns whether FCM is available.
     */
    private fun startFirebase(): Boolean {
        val values = listOf(
            BuildConfig.FIREBASE_PROJECT_ID, BuildConfig.FIREBASE_APPLICATION_ID,
            BuildConfig.FIREBASE_API_KEY, BuildConfig.FIREBASE_SENDER_ID,
        )
        if (values.any { it.isEmpty() }) return false
        if (FirebaseApp.getApps(this).isEmpty()) {
            val options = FirebaseOptions.Builder()
                .setProjectId(BuildConfig.FIREBASE_PROJECT_ID)
                .setApplicationId(BuildConfig.FIREBASE_APPLICATION_ID)
                .setApiKey(BuildConfig.FIREBASE_API_KEY)
                .setGcmSenderId(BuildConfig.FIREBASE_SENDER_ID)
                .build()
            FirebaseApp.initializeApp(this, options)
        }
        return true
    }

    /** onNewToken only fires when the token changes; a portal that missed the last one (it
     *  was unreachable) gets it now. */
    private fun sendCurrentToken() {
        FirebaseMessaging.getInstance().token.addOnCompleteListener { task ->
            if (!task.isSuccessful) return@addOnCompleteListener
            val token: String = task.result ?: return@addOnCompleteListener
            scope.launch { environment.getOrNull()?.push?.tokenChanged(token) }
        }
    }
}
