// Posting sign-in notifications, their Approve and Deny actions, and the outcome afterwards.
package org.assent.app.push

import android.Manifest
import android.annotation.SuppressLint
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build
import androidx.core.app.NotificationChannelCompat
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.app.RemoteInput
import androidx.core.content.ContextCompat
import org.assent.app.MainActivity
import org.assent.app.R
import org.assent.presentation.ApprovalPhase
import org.assent.presentation.ApprovalState
import org.assent.presentation.SignInActions
import org.assent.presentation.SignInChannel
import org.assent.presentation.SignInNotification

/**
 * Turns the presentation module's [SignInNotification] into a posted notification on the
 * high-importance [SignInChannel], tagged with the challenge id. The number to type is never
 * in it (the presentation module leaves it out). Both actions need an unlocked phone.
 */
class SignInNotifications(private val context: Context) {
    private val manager = NotificationManagerCompat.from(context)

    /** At app start: the channel exists before the first request arrives. */
    fun createChannel() {
        val channel = NotificationChannelCompat.Builder(SignInChannel.ID, NotificationManagerCompat.IMPORTANCE_HIGH)
            .setName(SignInChannel.NAME)
            .setDescription(SignInChannel.DESCRIPTION)
            .build()
        manager.createNotificationChannel(channel)
    }

    /**
     * Posts a request. `approveInApp`: Approve opens the approval screen instead of answering in
     * the background, because the request needs BiometricPrompt, which a BroadcastReceiver
     * cannot show.
     */
    fun post(notification: SignInNotification, data: Map<String, String>, approveInApp: Boolean) {
        val builder = newBuilder(notification.title, notification.subText, notification.text)
            .setContentIntent(activityIntent(SignInIntent.OPEN, notification.challengeId, data, mutable = false))
            .setOnlyAlertOnce(true)
        notification.timeoutMillis?.takeIf { it > 0 }?.let(builder::setTimeoutAfter)
        if (notification.hasActions) {
            builder.addAction(approveAction(notification, data, approveInApp))
            builder.addAction(denyAction(notification, data))
        }
        notify(notification.challengeId ?: FALLBACK_TAG, builder)
    }

    /**
     * After an answer from the notification: its outcome ("Approved", or the sentence saying
     * why not). A request still open (a number of the wrong length typed, a verification the
     * receiver could not ask for) is posted again with the reason, its Approve now opening the
     * approval screen; `state` null (not one of ours, or not readable) leaves a notification
     * that opens the app.
     */
    fun showOutcome(challengeId: String?, state: ApprovalState?, data: Map<String, String>) {
        val tag = challengeId ?: return
        if (state != null && state.phase == ApprovalPhase.OPEN) {
            val again = state.context.copy(
                text = listOfNotNull(state.error, state.context.text.ifEmpty { null }).joinToString("\n"),
                timeoutMillis = state.secondsLeft * 1_000,
            )
            post(again, data, approveInApp = true)
            return
        }
        val text = when (state?.phase) {
            ApprovalPhase.APPROVED -> context.getString(R.string.outcome_approved)
            ApprovalPhase.DENIED -> context.getString(R.string.outcome_denied)
            null -> context.getString(R.string.outcome_open_app)
            else -> state?.error ?: context.getString(R.string.outcome_open_app)
        }
        val done = state?.phase == ApprovalPhase.APPROVED || state?.phase == ApprovalPhase.DENIED
        val title = state?.context?.title ?: context.getString(R.string.sign_in_request)
        val builder = newBuilder(title, state?.context?.subText.orEmpty(), text)
            .setSilent(true)
            .setOnlyAlertOnce(true)
            .setTimeoutAfter(if (done) OUTCOME_MILLIS else FAILURE_MILLIS)
            .setContentIntent(activityIntent(SignInIntent.OPEN, tag, data, mutable = false))
        notify(tag, builder)
    }

    /** The request was answered in the app. */
    fun cancel(challengeId: String) = manager.cancel(challengeId, NOTIFICATION_ID)

    private fun newBuilder(title: String, subText: String, text: String): NotificationCompat.Builder =
        NotificationCompat.Builder(context, SignInChannel.ID)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(title)
            .setSubText(subText.ifEmpty { null })
            .setContentText(text)
            .setStyle(NotificationCompat.BigTextStyle().bigText(text))
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            .setCategory(NotificationCompat.CATEGORY_STATUS)
            .setAutoCancel(true)
            // On the lock screen: that a request came, not whose or from where.
            .setVisibility(NotificationCompat.VISIBILITY_PRIVATE)
            .setPublicVersion(
                NotificationCompat.Builder(context, SignInChannel.ID)
                    .setSmallIcon(R.drawable.ic_notification)
                    .setContentTitle(context.getString(R.string.sign_in_request))
                    .setContentText(context.getString(R.string.sign_in_request_locked))
                    .build(),
            )

    private fun approveAction(
        notification: SignInNotification,
        data: Map<String, String>,
        approveInApp: Boolean,
    ): NotificationCompat.Action {
        val title = context.getString(R.string.approve)
        if (approveInApp) {
            // The approval screen has its own number pad and runs BiometricPrompt.
            val open = activityIntent(SignInIntent.OPEN, notification.challengeId, data, mutable = false)
            return NotificationCompat.Action.Builder(R.drawable.ic_notification, title, open)
                .setShowsUserInterface(true)
                .authenticationRequired()
                .build()
        }
        val hint = notification.numberHint
        // The RemoteInput's answer is filled into the intent by the system: it must be mutable.
        val intent = answerIntent(SignInActions.APPROVE, notification.challengeId, data, mutable = hint != null)
        val builder = NotificationCompat.Action.Builder(R.drawable.ic_notification, title, intent)
            .setShowsUserInterface(!answersInBackground)
            .setAllowGeneratedReplies(false)
            .authenticationRequired()
        if (hint != null) builder.addRemoteInput(RemoteInput.Builder(SignInActions.NUMBER_INPUT).setLabel(hint).build())
        return builder.build()
    }

    private fun denyAction(notification: SignInNotification, data: Map<String, String>): NotificationCompat.Action {
        val intent = answerIntent(SignInActions.DENY, notification.challengeId, data, mutable = false)
        return NotificationCompat.Action.Builder(R.drawable.ic_notification, context.getString(R.string.deny), intent)
            .setShowsUserInterface(!answersInBackground)
            .authenticationRequired()
            .build()
    }

    /**
     * Android 12+: the receiver answers, once the system has had the phone unlocked
     * (`setAuthenticationRequired`). Before 12 there is no such action, so the action opens the
     * activity instead; the lock screen asks for the unlock first, and the activity answers.
     */
    private fun answerIntent(action: String, challengeId: String?, data: Map<String, String>, mutable: Boolean): PendingIntent {
        if (!answersInBackground) return activityIntent(action, challengeId, data, mutable)
        val intent = SignInIntent.intent(context, SignInActionReceiver::class.java, action, challengeId, data)
        return PendingIntent.getBroadcast(context, requestCode(action, challengeId), intent, flags(mutable))
    }

    private fun activityIntent(action: String, challengeId: String?, data: Map<String, String>, mutable: Boolean): PendingIntent {
        val intent = SignInIntent.intent(context, MainActivity::class.java, action, challengeId, data)
            .addFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP or Intent.FLAG_ACTIVITY_CLEAR_TOP)
        return PendingIntent.getActivity(context, requestCode(action, challengeId), intent, flags(mutable))
    }

    private fun NotificationCompat.Action.Builder.authenticationRequired(): NotificationCompat.Action.Builder =
        if (answersInBackground) setAuthenticationRequired(true) else this

    /** Each request's actions are their own PendingIntents, so one request's extras never
     *  replace another's. */
    private fun requestCode(action: String, challengeId: String?): Int = "$action/${challengeId.orEmpty()}".hashCode()

    private fun flags(mutable: Boolean): Int {
        val mutability = when {
            !mutable -> PendingIntent.FLAG_IMMUTABLE
            Build.VERSION.SDK_INT >= Build.VERSION_CODES.S -> PendingIntent.FLAG_MUTABLE
            else -> 0
        }
        return PendingIntent.FLAG_UPDATE_CURRENT or mutability
    }

    // Checked here (notifications off, or POST_NOTIFICATIONS not granted on Android 13+): a
    // request then waits for the app to be opened, which pulls it.
    @SuppressLint("MissingPermission")
    private fun notify(tag: String, builder: NotificationCompat.Builder) {
        if (!manager.areNotificationsEnabled()) return
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU &&
            ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
        ) {
            return
        }
        manager.notify(tag, NOTIFICATION_ID, builder.build())
    }

    private companion object {
        /** Every sign-in notification has this id; the tag (the challenge id) tells them apart. */
        const val NOTIFICATION_ID = 1
        const val FALLBACK_TAG = "sign-in"
        const val OUTCOME_MILLIS = 10_000L
        const val FAILURE_MILLIS = 60_000L

        val answersInBackground: Boolean get() = Build.VERSION.SDK_INT >= Build.VERSION_CODES.S
    }
}
