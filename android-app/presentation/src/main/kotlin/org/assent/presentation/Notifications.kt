// What a sign-in notification says, built from the challenge by the FCM service and the app
// alike; it never shows the number to type. And what happens when the user answers from the
// notification itself (Approve with the number in its RemoteInput, or Deny).
package org.assent.presentation

import org.assent.core.AssentException
import org.assent.core.ChallengeView
import org.assent.core.Clock
import org.assent.core.Purpose
import org.assent.core.Store
import org.assent.core.UserVerification

/** The key of the challenge JWS in the FCM data message (push-relay/src/fcm.rs). */
const val PAYLOAD_KEY = "assent"

/** The notification channel of sign-in requests (high importance: heads-up, sound). */
object SignInChannel {
    const val ID = "sign_in_requests"
    const val NAME = "Sign-in requests"
    const val DESCRIPTION = "Requests to approve a sign-in. They expire after a minute."
}

/** The notification's actions and the RemoteInput key of the number. */
object SignInActions {
    const val APPROVE = "org.assent.action.APPROVE"
    const val DENY = "org.assent.action.DENY"
    const val NUMBER_INPUT = "number"
}

/** A sign-in notification as NotificationCompat.Builder takes it. */
data class SignInNotification(
    val title: String,
    /** The account (the enrollment's label, or the user). */
    val subText: String,
    val text: String,
    val channelId: String = SignInChannel.ID,
    /** The challenge id: the notification's tag, so it can be cancelled once answered; null
     *  when the challenge could not be opened. */
    val challengeId: String?,
    /** The RemoteInput's hint, when the number must be typed. */
    val numberHint: String?,
    /** Posted until the request expires (`setTimeoutAfter`). */
    val timeoutMillis: Long?,
    /** The portal requires the user verified (biometric or screen lock) before approving: Approve
     *  must open the approval screen, since a notification action cannot show BiometricPrompt. */
    val requiresVerification: Boolean = false,
) {
    /** Approve and Deny are offered only for a request that was opened. */
    val hasActions: Boolean get() = challengeId != null

    companion object {
        /** The notification of an opened challenge. */
        fun of(view: ChallengeView, now: ULong? = null): SignInNotification {
            val title = when (view.purpose) {
                Purpose.LOGIN -> "Sign in to ${view.application}?"
                Purpose.STEP_UP -> "Confirm it's you in ${view.application}"
                Purpose.PASSWORD_RESET -> "Reset your ${view.application} password?"
                Purpose.ACTIVATE -> "Activate this phone"
            }
            val lines = mutableListOf<String>()
            val device = listOfNotNull(view.browser, view.os).filter { it.isNotEmpty() }
            if (device.isNotEmpty()) lines.add(device.joinToString(" on "))
            val place = listOfNotNull(view.location, view.ip?.let { "IP $it" }).filter { it.isNotEmpty() }
            if (place.isNotEmpty()) lines.add(place.joinToString(" · "))
            val digits = view.numberDigits?.toInt()
            if (digits != null) lines.add("Approve, then type the number shown on the sign-in page.")
            return SignInNotification(
                title = title, subText = view.user.ifEmpty { view.account }, text = lines.joinToString("\n"),
                challengeId = view.id, numberHint = digits?.let { "The $it-digit number" },
                timeoutMillis = now?.let { if (view.expiresAt > it) (view.expiresAt - it).toLong() * 1000 else 0L },
                requiresVerification = view.userVerification == UserVerification.REQUIRED,
            )
        }

        /** The notification when the challenge cannot be opened: the request is gone, or it is
         *  not for this phone any more. */
        fun fallback(error: Throwable): SignInNotification = SignInNotification(
            title = "Sign-in request", subText = "",
            text = if (error is AssentException.RequestClosed) {
                "This sign-in request is no longer open."
            } else {
                "Open Assent to see this sign-in request."
            },
            challengeId = null, numberHint = null, timeoutMillis = null,
        )
    }
}

/** The FCM service's whole job, in plain Kotlin: the data message opened with the core, as a
 *  notification to post. */
object FcmMessageHandler {
    /** The challenge JWS in a data message (`RemoteMessage.data`), if there is one. */
    fun payload(data: Map<String, String>): String? = data[PAYLOAD_KEY]?.takeIf { it.isNotBlank() }

    fun notification(data: Map<String, String>, store: Store, clock: Clock): SignInNotification {
        val payload = payload(data)
            ?: return SignInNotification.fallback(
                AssentException.InvalidInput("There is no sign-in request in this message."),
            )
        return try {
            SignInNotification.of(store.openChallenge(payload), clock.nowUnixSeconds())
        } catch (e: Exception) {
            SignInNotification.fallback(e)
        }
    }
}

/** What the app does when the user answers from the notification. */
object NotificationResponder {
    /**
     * Opens the notification's challenge and answers it as the action says, through the same
     * approval model as the screen (so user verification and expiry work the same way). Returns
     * the approval's final state; null when the message carries no challenge or the action is
     * not one of ours (the app then opens the approval screen).
     */
    suspend fun respond(
        action: String,
        typedNumber: String?,
        data: Map<String, String>,
        store: Store,
        transport: PortalTransport,
        biometrics: Biometrics,
        clock: Clock,
        alwaysVerify: Boolean,
    ): ApprovalState? {
        if (action != SignInActions.APPROVE && action != SignInActions.DENY) return null
        val payload = FcmMessageHandler.payload(data) ?: return null
        val view = try {
            store.openChallenge(payload)
        } catch (e: AssentException) {
            return null
        }
        val approval = ApprovalModel(view, store, transport, biometrics, clock, alwaysVerify)
        if (action == SignInActions.APPROVE) {
            approval.onAction(ApprovalAction.SetNumber(typedNumber ?: ""))
            approval.perform(ApprovalEffect.Approve)
        } else {
            approval.perform(ApprovalEffect.Deny(notMe = false))
        }
        return approval.state.value
    }
}
