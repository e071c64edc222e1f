// One account's details: rename, delete (with the push warning), its portal and device.
package org.assent.presentation

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.assent.core.AssentException
import org.assent.core.Store

data class AccountDetailsState(
    val accountId: String,
    val issuer: String,
    val name: String,
    /** The portal and device when the account also approves sign-ins. */
    val portal: String? = null,
    val device: String? = null,
    /** The warning to confirm before deleting an account that approves sign-ins. */
    val confirmDelete: String? = null,
    val deleted: Boolean = false,
    val error: String? = null,
)

sealed interface AccountDetailsAction {
    data class SetIssuer(val issuer: String) : AccountDetailsAction

    data class SetName(val name: String) : AccountDetailsAction

    data object SaveName : AccountDetailsAction

    /** The user tapped Delete (an account that approves sign-ins asks first). */
    data object Delete : AccountDetailsAction

    /** The user confirmed the warning. */
    data object ConfirmDelete : AccountDetailsAction

    data object CancelDelete : AccountDetailsAction
}

/** The one place the details screen's state changes. */
class AccountDetailsModel private constructor(initial: AccountDetailsState, private val store: Store) {
    private val mutableState = MutableStateFlow(initial)
    val state: StateFlow<AccountDetailsState> = mutableState.asStateFlow()

    fun onAction(action: AccountDetailsAction) {
        mutableState.update { it.copy(error = null) }
        try {
            when (action) {
                is AccountDetailsAction.SetIssuer -> mutableState.update { it.copy(issuer = action.issuer) }
                is AccountDetailsAction.SetName -> mutableState.update { it.copy(name = action.name) }
                AccountDetailsAction.SaveName -> state.value.let { store.rename(it.accountId, it.issuer, it.name) }
                AccountDetailsAction.Delete -> try {
                    store.delete(state.value.accountId, false)
                    mutableState.update { it.copy(deleted = true) }
                } catch (e: AssentException.NeedsConfirmation) {
                    mutableState.update { it.copy(confirmDelete = userMessage(e)) }
                }
                AccountDetailsAction.ConfirmDelete -> {
                    if (state.value.confirmDelete == null) return
                    store.delete(state.value.accountId, true)
                    mutableState.update { it.copy(confirmDelete = null, deleted = true) }
                }
                AccountDetailsAction.CancelDelete -> mutableState.update { it.copy(confirmDelete = null) }
            }
        } catch (e: Exception) {
            mutableState.update { it.copy(error = userMessage(e)) }
        }
    }

    companion object {
        /** Null when the account is not in the vault (any more). */
        fun open(accountId: String, store: Store): AccountDetailsModel? {
            val account = try {
                store.accounts().firstOrNull { it.id == accountId }
            } catch (e: AssentException) {
                null
            } ?: return null
            val push = account.pushDeviceId?.let { id ->
                try {
                    store.pushAccounts().firstOrNull { it.deviceId == id }
                } catch (e: AssentException) {
                    null
                }
            }
            val state = AccountDetailsState(
                accountId = accountId, issuer = account.issuer, name = account.name,
                portal = push?.portalUrl, device = push?.deviceId,
            )
            return AccountDetailsModel(state, store)
        }
    }
}
