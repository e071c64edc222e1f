// The details screen's ViewModel over AccountDetailsModel.
package org.assent.app.ui.details

import androidx.lifecycle.ViewModel
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import org.assent.app.AppEnvironment
import org.assent.presentation.AccountDetailsAction
import org.assent.presentation.AccountDetailsModel
import org.assent.presentation.AccountDetailsState

/** Actions run on the main thread: typing must reach the fields at once, and a rename or a
 *  delete is one vault write. */
class AccountDetailsViewModel(accountId: String, environment: AppEnvironment) : ViewModel() {
    private val model = AccountDetailsModel.open(accountId, environment.store)

    /** Null when the account is not in the vault (any more). */
    val state: StateFlow<AccountDetailsState?> = model?.state ?: MutableStateFlow(null)

    fun onAction(action: AccountDetailsAction) {
        model?.onAction(action)
    }
}
