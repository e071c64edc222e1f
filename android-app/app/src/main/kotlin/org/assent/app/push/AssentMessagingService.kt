// FCM: sign-in requests arrive as data messages; the registration token goes to every portal.
package org.assent.app.push

import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.assent.app.AssentApplication
import org.assent.presentation.FcmMessageHandler
import org.assent.presentation.SystemClock

/**
 * Receives the data message (`RemoteMessage.data`, the challenge under `assent`), builds the
 * notification with [FcmMessageHandler] and posts it; hands a new token to the PushCoordinator.
 * Both callbacks run on Firebase's worker thread, so they may block for a few seconds.
 */
class AssentMessagingService : FirebaseMessagingService() {
    override fun onMessageReceived(message: RemoteMessage) {
        val environment = (application as AssentApplication).environment.getOrNull() ?: return
        val data = message.data
        val notification = FcmMessageHandler.notification(data, environment.store, SystemClock)
        // Approve opens the approval screen when BiometricPrompt must come first: the portal
        // requires verification, or the user asked to confirm every approval.
        val approveInApp = notification.requiresVerification || environment.settings.verifyBeforeApprove
        environment.notifications.post(notification, data, approveInApp = approveInApp)
    }

    override fun onNewToken(token: String) {
        val environment = (application as AssentApplication).environment.getOrNull() ?: return
        // Blocking keeps the process alive until the portals have it; one that cannot be
        // reached is tried again at the next start (the coordinator keeps the token unsent).
        runBlocking { withTimeoutOrNull(TOKEN_DEADLINE_MILLIS) { environment.push.tokenChanged(token) } }
    }

    private companion object {
        const val TOKEN_DEADLINE_MILLIS = 15_000L
    }
}
