// Approve and Deny from the notification, answered without opening the app (Android 12+).
package org.assent.app.push

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.assent.app.AssentApplication
import org.assent.presentation.Biometrics
import org.assent.presentation.HttpPortalTransport
import org.assent.presentation.NotificationResponder
import org.assent.presentation.SystemClock
import org.assent.presentation.VerificationResult

/**
 * Receives the notification's actions once the system has had the phone unlocked, answers
 * through [NotificationResponder] (the same approval model as the screen), and replaces the
 * notification with the outcome. Requests that need BiometricPrompt never come here: their
 * Approve opens the approval screen (see [SignInNotifications.post]).
 */
class SignInActionReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val signIn = SignInIntent.from(intent) ?: return
        val application = context.applicationContext as AssentApplication
        val environment = application.environment.getOrNull() ?: return
        val pending = goAsync()
        application.scope.launch {
            try {
                val state = withTimeoutOrNull(ANSWER_DEADLINE_MILLIS) {
                    NotificationResponder.respond(
                        signIn.action, signIn.typedNumber, signIn.data, environment.store, transport, noPrompt,
                        SystemClock, environment.settings.verifyBeforeApprove,
                    )
                }
                environment.notifications.showOutcome(signIn.challengeId, state, signIn.data)
            } finally {
                pending.finish()
            }
        }
    }

    private companion object {
        /** A receiver that went async has about 10 s before the system calls it unresponsive. */
        const val ANSWER_DEADLINE_MILLIS = 9_000L

        /** Connect and read at 4 s each, so that a slow portal still fits the deadline (the
         *  blocking connection is not interrupted by the coroutine's timeout). */
        val transport = HttpPortalTransport(timeoutMillis = 4_000)

        /** No prompt can be shown from a receiver. Only requests that prefer verification reach
         *  this (those that require it open the screen), and they are answered unverified. */
        val noPrompt = Biometrics { VerificationResult.UNAVAILABLE }
    }
}
