// Approve or deny one sign-in: what is asking, a countdown to the expiry, the number pad.
package org.assent.app.ui.approval

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.safeDrawingPadding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material.icons.filled.Close
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.vector.ImageVector
import androidx.compose.ui.res.pluralStringResource
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.compose.LocalLifecycleOwner
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.repeatOnLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import org.assent.app.AppEnvironment
import org.assent.app.R
import org.assent.core.ChallengeView
import org.assent.presentation.ApprovalAction
import org.assent.presentation.ApprovalPhase
import org.assent.presentation.ApprovalState

/** Shown over the app for one pending request; `onDone(answered)` when it closes. Back
 *  leaves the request unanswered (its notification stays). */
@Composable
fun ApprovalRoute(challenge: ChallengeView, environment: AppEnvironment, onDone: (answered: Boolean) -> Unit) {
    val viewModel: ApprovalViewModel = viewModel(key = "approval-${challenge.id}") {
        ApprovalViewModel(challenge, environment)
    }
    val state by viewModel.state.collectAsStateWithLifecycle()
    val lifecycle = LocalLifecycleOwner.current.lifecycle
    LaunchedEffect(viewModel, lifecycle) {
        lifecycle.repeatOnLifecycle(Lifecycle.State.STARTED) { viewModel.tickEverySecond() }
    }
    val close = { onDone(state.phase != ApprovalPhase.OPEN) }
    BackHandler(enabled = state.phase != ApprovalPhase.SENDING, onBack = close)
    ApprovalScreen(
        state = state,
        onAction = viewModel::onAction,
        onApprove = viewModel::approve,
        onDeny = { viewModel.deny(notMe = false) },
        onNotMe = { viewModel.deny(notMe = true) },
        onClose = close,
    )
}

@Composable
fun ApprovalScreen(
    state: ApprovalState,
    onAction: (ApprovalAction) -> Unit,
    onApprove: () -> Unit,
    onDeny: () -> Unit,
    onNotMe: () -> Unit,
    onClose: () -> Unit,
) {
    val context = state.context
    Surface(Modifier.fillMaxSize()) {
        Column(
            Modifier.safeDrawingPadding().verticalScroll(rememberScrollState()).padding(24.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
            horizontalAlignment = Alignment.CenterHorizontally,
        ) {
            Text(context.title, style = MaterialTheme.typography.headlineSmall, textAlign = TextAlign.Center)
            if (context.subText.isNotEmpty()) {
                Text(context.subText, color = MaterialTheme.colorScheme.onSurfaceVariant)
            }
            if (context.text.isNotEmpty()) Text(context.text, textAlign = TextAlign.Center)
            if (state.phase == ApprovalPhase.OPEN) {
                val seconds = state.secondsLeft.toInt()
                Text(
                    pluralStringResource(R.plurals.expires_in, seconds, seconds),
                    color = if (seconds <= 10) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurfaceVariant,
                )
                state.digitsToType?.let { digits ->
                    NumberEntry(
                        number = state.number,
                        digits = digits,
                        onDigit = { onAction(ApprovalAction.TypeDigit(it)) },
                        onDelete = { onAction(ApprovalAction.DeleteDigit) },
                    )
                }
            }
            state.error?.let { Text(it, color = MaterialTheme.colorScheme.error, textAlign = TextAlign.Center) }
            when (state.phase) {
                ApprovalPhase.OPEN, ApprovalPhase.SENDING -> {
                    val open = state.phase == ApprovalPhase.OPEN
                    Row(horizontalArrangement = Arrangement.spacedBy(16.dp)) {
                        OutlinedButton(onClick = onDeny, enabled = open) { Text(stringResource(R.string.deny)) }
                        Button(onClick = onApprove, enabled = open && state.canApprove) { Text(stringResource(R.string.approve)) }
                    }
                    TextButton(
                        onClick = onNotMe,
                        enabled = open,
                        colors = ButtonDefaults.textButtonColors(contentColor = MaterialTheme.colorScheme.error),
                    ) {
                        Text(stringResource(R.string.not_me))
                    }
                }
                ApprovalPhase.APPROVED -> Outcome(Icons.Filled.CheckCircle, stringResource(R.string.outcome_approved), onClose)
                ApprovalPhase.DENIED -> Outcome(Icons.Filled.Close, stringResource(R.string.outcome_denied), onClose)
                ApprovalPhase.EXPIRED, ApprovalPhase.CLOSED -> Button(onClick = onClose) { Text(stringResource(R.string.close)) }
            }
        }
    }
}

@Composable
private fun Outcome(icon: ImageVector, message: String, onClose: () -> Unit) {
    Icon(icon, contentDescription = null, tint = MaterialTheme.colorScheme.primary, modifier = Modifier.size(64.dp))
    Text(message, style = MaterialTheme.typography.titleLarge)
    Button(onClick = onClose) { Text(stringResource(R.string.done)) }
}
