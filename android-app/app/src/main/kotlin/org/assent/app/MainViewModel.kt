// The activity's state: the settings it applies, the requests waiting for an answer, app lock.
package org.assent.app

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.stateIn
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.assent.app.push.SignInIntent
import org.assent.core.ChallengeView
import org.assent.presentation.AppSettings
import org.assent.presentation.ApprovalPhase
import org.assent.presentation.FcmMessageHandler
import org.assent.presentation.NotificationResponder
import org.assent.presentation.SignInActions
import org.assent.presentation.SystemClock
import org.assent.presentation.VerificationResult

class MainViewModel(
    private val environment: AppEnvironment,
    /** The process's scope, for the backup written as the app leaves. */
    private val processScope: CoroutineScope,
) : ViewModel() {
    /** Follows what the settings screen saves: theme, dynamic colour, FLAG_SECURE. */
    val settings: StateFlow<AppSettings> = environment.preferences.changes()
        .map { environment.settings }
        .stateIn(viewModelScope, SharingStarted.Eagerly, environment.settings)

    private val mutablePending = MutableStateFlow<List<ChallengeView>>(emptyList())

    /** Requests to show the approval screen for, oldest first; the first one is on screen. */
    val pending: StateFlow<List<ChallengeView>> = mutablePending.asStateFlow()

    val locked: StateFlow<Boolean> = environment.appLock.locked

    private var pulling: Job? = null

    /** ON_START: the requests pending at every portal, so a missed notification (or a build
     *  without FCM) loses nothing. */
    fun onStart() {
        if (pulling?.isActive == true) return
        pulling = viewModelScope.launch {
            show(withContext(Dispatchers.IO) { environment.push.pullPending() })
        }
    }

    /** ON_STOP: app lock engages; the backup is flushed and copied while the process lives. */
    fun onStop(changingConfigurations: Boolean) {
        environment.appLock.stopped(changingConfigurations)
        if (!changingConfigurations) processScope.launch { environment.flushBackups() }
    }

    fun unlock() {
        viewModelScope.launch {
            if (environment.biometrics.verify(UNLOCK_REASON) == VerificationResult.VERIFIED) environment.appLock.unlock()
        }
    }

    /**
     * A sign-in notification opened the app. Before Android 12 its Approve and Deny open the
     * activity (behind the keyguard), which answers here, with BiometricPrompt available; a
     * request not answered that way, or a tap on the notification, opens the approval screen.
     */
    fun onSignInIntent(signIn: SignInIntent) {
        viewModelScope.launch {
            if (signIn.action == SignInActions.APPROVE || signIn.action == SignInActions.DENY) {
                val state = NotificationResponder.respond(
                    signIn.action, signIn.typedNumber, signIn.data, environment.store, environment.transport,
                    environment.biometrics, SystemClock, environment.settings.verifyBeforeApprove,
                )
                if (state != null && state.phase != ApprovalPhase.OPEN) {
                    environment.notifications.showOutcome(signIn.challengeId, state, signIn.data)
                    return@launch
                }
            }
            val opened = withContext(Dispatchers.IO) {
                FcmMessageHandler.payload(signIn.data)?.let { payload ->
                    runCatching { environment.store.openChallenge(payload) }.getOrNull()
                }
            }
            if (opened != null) show(listOf(opened)) else onStart()
        }
    }

    /** The approval screen of `challengeId` closed; `answered` when it is no longer open. */
    fun finished(challengeId: String, answered: Boolean) {
        mutablePending.update { list -> list.filterNot { it.id == challengeId } }
        if (answered) environment.notifications.cancel(challengeId)
    }

    private fun show(found: List<ChallengeView>) = mutablePending.update { current ->
        current + found.filter { new -> current.none { it.id == new.id } }
    }

    private companion object {
        const val UNLOCK_REASON = "Unlock Assent"
    }
}
