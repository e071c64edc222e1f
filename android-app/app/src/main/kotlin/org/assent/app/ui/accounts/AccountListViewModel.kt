// The account list's ViewModel over AccountListModel.
package org.assent.app.ui.accounts

import androidx.lifecycle.ViewModel
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.isActive
import org.assent.app.AppEnvironment
import org.assent.presentation.AccountListAction
import org.assent.presentation.AccountListModel
import org.assent.presentation.AccountListState

/**
 * The model's actions run on the main thread: the once-a-second refresh is one call into the
 * core (`codeSheet`, well under a millisecond), and a move or an HOTP copy writes the vault in
 * a few milliseconds.
 */
class AccountListViewModel(environment: AppEnvironment) : ViewModel() {
    private val model = AccountListModel(environment.store, environment.clipboard)
    val state: StateFlow<AccountListState> = model.state

    init {
        model.onAction(AccountListAction.Refresh)
    }

    fun onAction(action: AccountListAction) = model.onAction(action)

    /** Refreshes the codes at every turn of the second, for as long as the caller runs (the
     *  list is on screen). */
    suspend fun refreshEverySecond() {
        while (currentCoroutineContext().isActive) {
            model.onAction(AccountListAction.Refresh)
            delay(1_000 - System.currentTimeMillis() % 1_000)
        }
    }
}
