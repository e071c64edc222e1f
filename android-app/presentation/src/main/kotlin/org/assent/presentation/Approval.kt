// The approve/deny screen of one sign-in request: context, countdown, number entry, user
// verification before approving, and the answer sent to the portal.
package org.assent.presentation

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.assent.core.AssentException
import org.assent.core.ChallengeView
import org.assent.core.Clock
import org.assent.core.PortalRequest
import org.assent.core.Store
import org.assent.core.UserAnswer
import org.assent.core.UserVerification

enum class ApprovalPhase {
    /** Waiting for the user. */
    OPEN,

    /** Sending the answer. */
    SENDING,
    APPROVED,
    DENIED,

    /** Expired before it was answered (or the portal said so): nothing was approved. */
    EXPIRED,

    /** Closed for another reason (answered elsewhere, wrong number, device replaced); the
     *  message says which. */
    CLOSED,
}

data class ApprovalState(
    val challenge: ChallengeView,
    val phase: ApprovalPhase = ApprovalPhase.OPEN,
    /** The digits typed so far (number matching). */
    val number: String = "",
    val secondsLeft: Long,
    /** A sentence: why the last action did not go through. */
    val error: String? = null,
) {
    /** The digits to type; null when the request has no number matching. */
    val digitsToType: Int? get() = challenge.numberDigits?.toInt()
    val canApprove: Boolean
        get() = phase == ApprovalPhase.OPEN && (digitsToType?.let { number.length == it } ?: true)

    /** The context the screen shows (application, browser and OS, place). */
    val context: SignInNotification get() = SignInNotification.of(challenge)
}

sealed interface ApprovalAction {
    data class TypeDigit(val digit: Char) : ApprovalAction

    data object DeleteDigit : ApprovalAction

    /** The number typed into the notification's RemoteInput. */
    data class SetNumber(val text: String) : ApprovalAction

    /** Recompute the countdown (every second while on screen). */
    data object Tick : ApprovalAction
}

sealed interface ApprovalEffect {
    data object Approve : ApprovalEffect

    data class Deny(val notMe: Boolean) : ApprovalEffect
}

/** The messages of the approval screen. */
object ApprovalMessage {
    const val EXPIRED = "This sign-in request expired. Nothing was approved; sign in again for a new request."
    const val REFUSED_VERIFICATION = "Your fingerprint, face or screen lock was not confirmed. Nothing was sent."
    const val NO_VERIFICATION =
        "This sign-in needs a fingerprint, face or screen lock. Set one up in the phone's settings, then try again."

    fun typeDigits(n: Int) = "Type the $n digits shown on the sign-in page."
}

/** The one place the approval screen's state changes. */
class ApprovalModel(
    challenge: ChallengeView,
    private val store: Store,
    private val transport: PortalTransport,
    private val biometrics: Biometrics,
    private val clock: Clock,
    /** The setting "Confirm it's you before approving". */
    private val alwaysVerify: Boolean,
) {
    private val mutableState = MutableStateFlow(ApprovalState(challenge, secondsLeft = secondsLeft(challenge)))
    val state: StateFlow<ApprovalState> = mutableState.asStateFlow()

    init {
        if (state.value.secondsLeft == 0L) expire()
    }

    fun onAction(action: ApprovalAction) {
        if (state.value.phase != ApprovalPhase.OPEN) return
        when (action) {
            is ApprovalAction.TypeDigit -> mutableState.update {
                val limit = it.digitsToType ?: 0
                if (action.digit in '0'..'9' && it.number.length < limit) {
                    it.copy(number = it.number + action.digit, error = null)
                } else {
                    it
                }
            }
            ApprovalAction.DeleteDigit -> mutableState.update { it.copy(number = it.number.dropLast(1)) }
            is ApprovalAction.SetNumber -> mutableState.update {
                it.copy(number = action.text.filter { c -> c in '0'..'9' }, error = null)
            }
            ApprovalAction.Tick -> tick()
        }
    }

    suspend fun perform(effect: ApprovalEffect) {
        tick()
        if (state.value.phase != ApprovalPhase.OPEN) return
        val answer = when (effect) {
            ApprovalEffect.Approve -> {
                val digits = state.value.digitsToType
                if (digits != null && state.value.number.length != digits) {
                    mutableState.update { it.copy(error = ApprovalMessage.typeDigits(digits)) }
                    return
                }
                val verified = verifyIfNeeded() ?: return
                tick()
                if (state.value.phase != ApprovalPhase.OPEN) return
                UserAnswer.Approve(if (digits == null) null else state.value.number, verified)
            }
            is ApprovalEffect.Deny -> UserAnswer.Deny(effect.notMe, false)
        }
        val request: PortalRequest
        try {
            request = store.answer(state.value.challenge.id, answer)
        } catch (e: AssentException) {
            close(e)
            return
        }
        mutableState.update { it.copy(phase = ApprovalPhase.SENDING) }
        try {
            transport.send(request)
            val done = if (effect == ApprovalEffect.Approve) ApprovalPhase.APPROVED else ApprovalPhase.DENIED
            mutableState.update { it.copy(phase = done, error = null) }
        } catch (e: PortalFailure) {
            // The vault remembers the answer, so this request is never answered twice.
            mutableState.update {
                if (e.isExpiry) {
                    it.copy(phase = ApprovalPhase.EXPIRED, error = ApprovalMessage.EXPIRED)
                } else {
                    it.copy(phase = ApprovalPhase.CLOSED, error = e.userMessage)
                }
            }
        }
    }

    /** null: stop, nothing is sent (refused, or required and unavailable); else whether the
     *  user was verified just now. */
    private suspend fun verifyIfNeeded(): Boolean? {
        val asked = state.value.challenge.userVerification
        val required = asked == UserVerification.REQUIRED
        if (!required && !alwaysVerify && asked != UserVerification.PREFERRED) return false
        return when (biometrics.verify("Approve the sign-in to ${state.value.challenge.application}")) {
            VerificationResult.VERIFIED -> true
            VerificationResult.REFUSED -> {
                mutableState.update { it.copy(error = ApprovalMessage.REFUSED_VERIFICATION) }
                null
            }
            VerificationResult.UNAVAILABLE -> if (required || alwaysVerify) {
                mutableState.update { it.copy(error = ApprovalMessage.NO_VERIFICATION) }
                null
            } else {
                false
            }
        }
    }

    private fun secondsLeft(challenge: ChallengeView): Long {
        val now = clock.nowUnixSeconds()
        return if (challenge.expiresAt > now) (challenge.expiresAt - now).toLong() else 0L
    }

    private fun tick() {
        if (state.value.phase != ApprovalPhase.OPEN) return
        val left = secondsLeft(state.value.challenge)
        mutableState.update { it.copy(secondsLeft = left) }
        if (left == 0L) expire()
    }

    private fun expire() = mutableState.update { it.copy(phase = ApprovalPhase.EXPIRED, error = ApprovalMessage.EXPIRED) }

    private fun close(error: AssentException) {
        if (clock.nowUnixSeconds() >= state.value.challenge.expiresAt) {
            expire()
        } else if (error is AssentException.RequestClosed) {
            mutableState.update { it.copy(phase = ApprovalPhase.CLOSED, error = userMessage(error)) }
        } else {
            mutableState.update { it.copy(error = userMessage(error)) }
        }
    }
}
