// What a sign-in notification hands to the activity or the action receiver.
package org.assent.app.push

import android.content.Context
import android.content.Intent
import android.os.Bundle
import androidx.core.app.RemoteInput
import org.assent.presentation.SignInActions

/** A tap on a sign-in notification or one of its actions, read back from its intent. */
data class SignInIntent(
    /** [SignInActions.APPROVE], [SignInActions.DENY], or [OPEN] (show the approval screen). */
    val action: String,
    /** The notification's tag; null for the notification of a request that could not be opened. */
    val challengeId: String?,
    /** The FCM data message the notification was built from (`RemoteMessage.data`). */
    val data: Map<String, String>,
    /** What was typed into the Approve action's RemoteInput. */
    val typedNumber: String?,
) {
    companion object {
        /** Opens the app on the approval screen of the notification's request. */
        const val OPEN = "org.assent.action.OPEN_SIGN_IN"

        private const val EXTRA_CHALLENGE_ID = "org.assent.extra.CHALLENGE_ID"
        private const val EXTRA_MESSAGE = "org.assent.extra.MESSAGE"
        private val ACTIONS = setOf(OPEN, SignInActions.APPROVE, SignInActions.DENY)

        /** The sign-in an intent carries; null for any other intent (the launcher's). */
        fun from(intent: Intent): SignInIntent? {
            val action = intent.action?.takeIf { it in ACTIONS } ?: return null
            val message = intent.getBundleExtra(EXTRA_MESSAGE) ?: Bundle()
            val data = message.keySet().mapNotNull { key -> message.getString(key)?.let { key to it } }.toMap()
            val typed = RemoteInput.getResultsFromIntent(intent)?.getCharSequence(SignInActions.NUMBER_INPUT)?.toString()
            return SignInIntent(action, intent.getStringExtra(EXTRA_CHALLENGE_ID), data, typed)
        }

        /** An explicit intent to `target` (the activity or the receiver) carrying the message. */
        fun intent(
            context: Context,
            target: Class<*>,
            action: String,
            challengeId: String?,
            data: Map<String, String>,
        ): Intent {
            val message = Bundle()
            for ((key, value) in data) message.putString(key, value)
            return Intent(context, target)
                .setAction(action)
                .putExtra(EXTRA_CHALLENGE_ID, challengeId)
                .putExtra(EXTRA_MESSAGE, message)
        }
    }
}
