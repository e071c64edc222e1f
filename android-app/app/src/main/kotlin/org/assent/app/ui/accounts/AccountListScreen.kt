// The account list: codes with countdowns, tap the code to copy, tap the row for details,
// search, and reordering with move up / move down.
package org.assent.app.ui.accounts

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.itemsIndexed
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Check
import androidx.compose.material.icons.filled.Edit
import androidx.compose.material.icons.filled.KeyboardArrowDown
import androidx.compose.material.icons.filled.KeyboardArrowUp
import androidx.compose.material.icons.filled.Search
import androidx.compose.material.icons.filled.Settings
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FloatingActionButton
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.pluralStringResource
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.compose.LocalLifecycleOwner
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.repeatOnLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import org.assent.app.AppEnvironment
import org.assent.app.R
import org.assent.presentation.AccountListAction
import org.assent.presentation.AccountListState
import org.assent.presentation.AccountRow

@Composable
fun AccountListRoute(
    environment: AppEnvironment,
    onAdd: () -> Unit,
    onOpen: (accountId: String) -> Unit,
    onSettings: () -> Unit,
) {
    val viewModel: AccountListViewModel = viewModel { AccountListViewModel(environment) }
    val state by viewModel.state.collectAsStateWithLifecycle()
    val lifecycle = LocalLifecycleOwner.current.lifecycle
    LaunchedEffect(viewModel, lifecycle) {
        lifecycle.repeatOnLifecycle(Lifecycle.State.STARTED) { viewModel.refreshEverySecond() }
    }
    AccountListScreen(state, viewModel::onAction, onAdd, onOpen, onSettings)
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun AccountListScreen(
    state: AccountListState,
    onAction: (AccountListAction) -> Unit,
    onAdd: () -> Unit,
    onOpen: (accountId: String) -> Unit,
    onSettings: () -> Unit,
) {
    var reordering by rememberSaveable { mutableStateOf(false) }
    // Positions are the user's whole order, so moving happens in the unfiltered list only.
    val canReorder = state.query.isEmpty() && state.rows.size > 1
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.app_name)) },
                actions = {
                    if (canReorder) {
                        IconButton(onClick = { reordering = !reordering }) {
                            if (reordering) {
                                Icon(Icons.Filled.Check, contentDescription = stringResource(R.string.done))
                            } else {
                                Icon(Icons.Filled.Edit, contentDescription = stringResource(R.string.reorder))
                            }
                        }
                    }
                    IconButton(onClick = onSettings) {
                        Icon(Icons.Filled.Settings, contentDescription = stringResource(R.string.settings))
                    }
                },
            )
        },
        floatingActionButton = {
            FloatingActionButton(onClick = onAdd) {
                Icon(Icons.Filled.Add, contentDescription = stringResource(R.string.add_account))
            }
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            if (state.isEmpty) {
                EmptyList()
            } else {
                OutlinedTextField(
                    value = state.query,
                    onValueChange = { onAction(AccountListAction.Search(it)) },
                    placeholder = { Text(stringResource(R.string.search_accounts)) },
                    leadingIcon = { Icon(Icons.Filled.Search, contentDescription = null) },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth().padding(horizontal = 16.dp, vertical = 8.dp),
                )
                if (state.rows.isEmpty()) {
                    Text(
                        stringResource(R.string.no_match),
                        modifier = Modifier.padding(24.dp),
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
                LazyColumn(contentPadding = PaddingValues(bottom = 88.dp)) {
                    itemsIndexed(state.rows, key = { _, row -> row.id }) { index, row ->
                        AccountRowItem(
                            row = row,
                            copied = state.copiedId == row.id,
                            reordering = reordering && canReorder,
                            canMoveUp = index > 0,
                            canMoveDown = index < state.rows.lastIndex,
                            onCopy = { onAction(AccountListAction.Copy(row.id)) },
                            onOpen = { onOpen(row.id) },
                            onMoveUp = { onAction(AccountListAction.Move(row.id, index - 1)) },
                            onMoveDown = { onAction(AccountListAction.Move(row.id, index + 1)) },
                        )
                        HorizontalDivider()
                    }
                }
            }
        }
    }
    state.error?.let { message ->
        AlertDialog(
            onDismissRequest = { onAction(AccountListAction.DismissError) },
            confirmButton = {
                TextButton(onClick = { onAction(AccountListAction.DismissError) }) { Text(stringResource(R.string.ok)) }
            },
            title = { Text(stringResource(R.string.something_went_wrong)) },
            text = { Text(message) },
        )
    }
}

@Composable
private fun EmptyList() {
    Column(
        Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(stringResource(R.string.no_accounts), style = MaterialTheme.typography.titleLarge)
        Text(stringResource(R.string.no_accounts_hint), color = MaterialTheme.colorScheme.onSurfaceVariant)
    }
}

@Composable
private fun AccountRowItem(
    row: AccountRow,
    copied: Boolean,
    reordering: Boolean,
    canMoveUp: Boolean,
    canMoveDown: Boolean,
    onCopy: () -> Unit,
    onOpen: () -> Unit,
    onMoveUp: () -> Unit,
    onMoveDown: () -> Unit,
) {
    ListItem(
        modifier = Modifier.clickable(onClickLabel = stringResource(R.string.open_details), onClick = onOpen),
        leadingContent = { IssuerIcon(row.icon) },
        headlineContent = { Text(row.issuer.ifEmpty { row.name }) },
        supportingContent = {
            Column {
                if (row.issuer.isNotEmpty()) Text(row.name)
                Text(
                    row.displayCode,
                    style = MaterialTheme.typography.headlineSmall,
                    fontFamily = FontFamily.Monospace,
                    fontWeight = FontWeight.SemiBold,
                    color = MaterialTheme.colorScheme.onSurface,
                    // The code is its own target: tapping it copies, tapping the rest opens.
                    modifier = Modifier.clickable(onClickLabel = stringResource(R.string.copy_code), onClick = onCopy),
                )
                if (copied) {
                    Text(stringResource(R.string.copied), style = MaterialTheme.typography.labelMedium)
                }
                if (row.approvesSignIns) {
                    Text(
                        stringResource(R.string.sign_in_approvals),
                        style = MaterialTheme.typography.labelMedium,
                        color = MaterialTheme.colorScheme.primary,
                    )
                }
            }
        },
        trailingContent = {
            if (reordering) {
                Row {
                    IconButton(onClick = onMoveUp, enabled = canMoveUp) {
                        Icon(Icons.Filled.KeyboardArrowUp, contentDescription = stringResource(R.string.move_up))
                    }
                    IconButton(onClick = onMoveDown, enabled = canMoveDown) {
                        Icon(Icons.Filled.KeyboardArrowDown, contentDescription = stringResource(R.string.move_down))
                    }
                }
            } else {
                row.secondsLeft?.let { seconds -> Countdown(row.progress, seconds) }
            }
        },
    )
}

/** The time left for the code: a ring that empties, and the seconds. */
@Composable
private fun Countdown(progress: Float, seconds: Int) {
    val description = pluralStringResource(R.plurals.seconds_left, seconds, seconds)
    Box(Modifier.size(36.dp).semantics { contentDescription = description }, contentAlignment = Alignment.Center) {
        CircularProgressIndicator(
            progress = { progress },
            modifier = Modifier.fillMaxSize(),
            color = if (seconds <= 5) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.primary,
            strokeWidth = 3.dp,
            trackColor = MaterialTheme.colorScheme.surfaceVariant,
        )
        Text("$seconds", style = MaterialTheme.typography.labelSmall)
    }
}
