// One account: rename it, see the portal it approves sign-ins for, delete it (an account that
// approves sign-ins asks first).
package org.assent.app.ui.details

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import org.assent.app.AppEnvironment
import org.assent.app.R
import org.assent.app.ui.BackTopBar
import org.assent.presentation.AccountDetailsAction
import org.assent.presentation.AccountDetailsState

@Composable
fun AccountDetailsRoute(environment: AppEnvironment, accountId: String, onBack: () -> Unit) {
    val viewModel: AccountDetailsViewModel = viewModel { AccountDetailsViewModel(accountId, environment) }
    val state by viewModel.state.collectAsStateWithLifecycle()
    LaunchedEffect(state?.deleted) { if (state?.deleted == true) onBack() }
    AccountDetailsScreen(state, viewModel::onAction, onBack)
}

@Composable
fun AccountDetailsScreen(
    state: AccountDetailsState?,
    onAction: (AccountDetailsAction) -> Unit,
    onBack: () -> Unit,
) {
    val title = state?.issuer?.takeIf { it.isNotEmpty() } ?: stringResource(R.string.account)
    Scaffold(topBar = { BackTopBar(title, onBack) }) { padding ->
        Column(
            Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            if (state == null) {
                Text(stringResource(R.string.account_gone))
                return@Column
            }
            OutlinedTextField(
                value = state.issuer,
                onValueChange = { onAction(AccountDetailsAction.SetIssuer(it)) },
                label = { Text(stringResource(R.string.field_issuer)) },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
            OutlinedTextField(
                value = state.name,
                onValueChange = { onAction(AccountDetailsAction.SetName(it)) },
                label = { Text(stringResource(R.string.field_name)) },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
            Button(onClick = { onAction(AccountDetailsAction.SaveName) }, modifier = Modifier.fillMaxWidth()) {
                Text(stringResource(R.string.save))
            }
            if (state.portal != null) {
                Text(stringResource(R.string.sign_in_approvals), style = MaterialTheme.typography.titleMedium)
                ListItem(
                    headlineContent = { Text(stringResource(R.string.portal)) },
                    supportingContent = { Text(state.portal.orEmpty()) },
                )
                state.device?.let { device ->
                    ListItem(
                        headlineContent = { Text(stringResource(R.string.this_phone)) },
                        supportingContent = { Text(device) },
                    )
                }
            }
            state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            OutlinedButton(
                onClick = { onAction(AccountDetailsAction.Delete) },
                colors = ButtonDefaults.outlinedButtonColors(contentColor = MaterialTheme.colorScheme.error),
                modifier = Modifier.fillMaxWidth(),
            ) {
                Text(stringResource(R.string.delete_account))
            }
        }
    }
    state?.confirmDelete?.let { warning ->
        AlertDialog(
            onDismissRequest = { onAction(AccountDetailsAction.CancelDelete) },
            title = { Text(stringResource(R.string.delete_account_question)) },
            text = { Text(warning) },
            confirmButton = {
                TextButton(onClick = { onAction(AccountDetailsAction.ConfirmDelete) }) {
                    Text(stringResource(R.string.delete_and_stop_approvals), color = MaterialTheme.colorScheme.error)
                }
            },
            dismissButton = {
                TextButton(onClick = { onAction(AccountDetailsAction.CancelDelete) }) { Text(stringResource(R.string.cancel)) }
            },
        )
    }
}
