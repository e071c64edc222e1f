// The approval screen's ViewModel over ApprovalModel.
package org.assent.app.ui.approval

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import org.assent.app.AppEnvironment
import org.assent.core.ChallengeView
import org.assent.presentation.ApprovalAction
import org.assent.presentation.ApprovalEffect
import org.assent.presentation.ApprovalModel
import org.assent.presentation.ApprovalState
import org.assent.presentation.SystemClock

/**
 * The answer runs in viewModelScope on the main thread: BiometricPrompt is shown from there,
 * the transport does its I/O on Dispatchers.IO, and the answer recorded in the vault is one
 * small write. One answer at a time.
 */
class ApprovalViewModel(challenge: ChallengeView, environment: AppEnvironment) : ViewModel() {
    private val model = ApprovalModel(
        challenge, environment.store, environment.transport, environment.biometrics, SystemClock,
        alwaysVerify = environment.settings.verifyBeforeApprove,
    )
    val state: StateFlow<ApprovalState> = model.state
    private var answering: Job? = null

    fun onAction(action: ApprovalAction) = model.onAction(action)

    fun approve() = answer(ApprovalEffect.Approve)

    fun deny(notMe: Boolean) = answer(ApprovalEffect.Deny(notMe))

    /** The countdown, every second while the caller runs (the screen is on). */
    suspend fun tickEverySecond() {
        while (currentCoroutineContext().isActive) {
            model.onAction(ApprovalAction.Tick)
            delay(1_000)
        }
    }

    private fun answer(effect: ApprovalEffect) {
        if (answering?.isActive == true) return
        answering = viewModelScope.launch { model.perform(effect) }
    }
}
