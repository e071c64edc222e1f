// The account list: every account with its code and countdown, search, reorder, copy.
package org.assent.presentation

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.assent.core.AccountIcon
import org.assent.core.AccountView
import org.assent.core.Store

/** One row of the list, as the screen draws it. */
data class AccountRow(
    val id: String,
    val issuer: String,
    val name: String,
    /** The code grouped for reading (`123 456`), as the core formats it. */
    val displayCode: String,
    /** Seconds the code stays valid; null for HOTP (no countdown). */
    val secondsLeft: Int?,
    /** The countdown's filled fraction: 1 when the code is new, 0 when it expires. */
    val progress: Float,
    val icon: AccountIcon,
    /** A stable key for caching the drawn icon. */
    val iconKey: String,
    /** True when this account also approves sign-ins ("Sign-in approvals"). */
    val approvesSignIns: Boolean,
    internal val period: Int,
    /** The index of its code in the core's CodeSheet. */
    internal val position: Int,
) {
    /** What gets copied: the code without the space. */
    val code: String get() = displayCode.replace(" ", "")

    internal fun withCode(displayCode: String, left: Int): AccountRow {
        val (seconds, progress) = countdown(left, period)
        return copy(displayCode = displayCode, secondsLeft = seconds, progress = progress)
    }

    internal companion object {
        fun of(view: AccountView, displayCode: String, left: Int): AccountRow {
            val period = view.period.toInt()
            val (seconds, progress) = countdown(left, period)
            return AccountRow(
                id = view.id, issuer = view.issuer, name = view.name, displayCode = displayCode,
                secondsLeft = seconds, progress = progress, icon = view.icon, iconKey = view.iconKey,
                approvesSignIns = view.pushDeviceId != null, period = period,
                position = view.position.toInt(),
            )
        }

        /** `left` is 0 for HOTP. */
        private fun countdown(left: Int, period: Int): Pair<Int?, Float> =
            if (left <= 0) null to 1f else left to if (period > 0) left.toFloat() / period else 1f
    }
}

/** How long a copied code stays on the clipboard. */
const val COPIED_CODE_LIFETIME_MILLIS = 30_000L

data class AccountListState(
    val rows: List<AccountRow> = emptyList(),
    val query: String = "",
    /** The account whose code was copied last (the screen shows "Copied"). */
    val copiedId: String? = null,
    /** A sentence from the last failed action. */
    val error: String? = null,
) {
    val isEmpty: Boolean get() = rows.isEmpty() && query.isEmpty()
}

sealed interface AccountListAction {
    /** Recompute the codes (every second while the list is on screen). */
    data object Refresh : AccountListAction

    data class Search(val query: String) : AccountListAction

    /** Move an account to `position` (0 = first), as a drag in the list ends. */
    data class Move(val id: String, val position: Int) : AccountListAction

    /** The user tapped the code. */
    data class Copy(val id: String) : AccountListAction

    data object DismissError : AccountListAction
}

/**
 * Puts codes on the clipboard, marked sensitive, and clears them after 30 s unless the user
 * copied something else since. A new copy replaces the previous timer.
 */
class ClipboardGuard(private val clipboard: Clipboard, private val scheduler: Scheduler) {
    private var pending: Cancellable? = null

    @Synchronized
    fun copy(label: String, code: String) {
        pending?.cancel()
        clipboard.copySensitive(label, code)
        pending = scheduler.after(COPIED_CODE_LIFETIME_MILLIS) { clipboard.clearIfStill(code) }
    }
}

/** The one place the list's state changes. */
class AccountListModel(private val store: Store, private val clipboard: ClipboardGuard) {
    private val mutableState = MutableStateFlow(AccountListState())
    val state: StateFlow<AccountListState> = mutableState.asStateFlow()

    /** The accounts' revision the rows were read at. */
    private var revision: ULong? = null

    fun onAction(action: AccountListAction) {
        try {
            when (action) {
                AccountListAction.Refresh -> refreshCodes()
                is AccountListAction.Search -> {
                    mutableState.update { it.copy(query = action.query) }
                    load()
                }
                is AccountListAction.Move -> {
                    store.moveTo(action.id, action.position.coerceAtLeast(0).toUInt())
                    load()
                }
                is AccountListAction.Copy -> copy(action.id)
                AccountListAction.DismissError -> mutableState.update { it.copy(error = null) }
            }
        } catch (e: Exception) {
            mutableState.update { it.copy(error = userMessage(e)) }
        }
    }

    private fun copy(id: String) {
        load()
        val row = state.value.rows.firstOrNull { it.id == id } ?: return
        if (row.secondsLeft == null) {
            // HOTP: copying uses the code and moves the counter on.
            clipboard.copy(row.issuer, store.useHotpCode(id))
            load()
        } else {
            clipboard.copy(row.issuer, row.code)
        }
        mutableState.update { it.copy(copiedId = id) }
    }

    /**
     * The once-a-second refresh: every account's code crosses from the core as one string
     * (`Store.codeSheet()`), and the rows keep the rest. When the accounts changed underneath
     * (another screen), the sheet's revision says so and the whole list is read again.
     */
    private fun refreshCodes() {
        val rows = state.value.rows
        val revision = revision
        if (rows.isEmpty() || revision == null) return load()
        val sheet = store.codeSheet()
        if (sheet.revision != revision) return load()
        val codes = sheet.codes.split('\n')
        val left = sheet.remainingSeconds
        if (codes.size != left.size) return load()
        val fresh = ArrayList<AccountRow>(rows.size)
        for (row in rows) {
            if (row.position >= codes.size) return load()
            fresh.add(row.withCode(codes[row.position], left[row.position].toInt()))
        }
        mutableState.update { it.copy(rows = fresh) }
    }

    private fun load() {
        val query = state.value.query.trim()
        // The revision first and the codes last: when the accounts changed between the reads,
        // read them again.
        repeat(3) {
            val revision = store.revision()
            val views = if (query.isEmpty()) store.accounts() else store.search(query)
            val sheet = store.codeSheet()
            val codes = sheet.codes.split('\n')
            val rows = views.mapNotNull { view ->
                val position = view.position.toInt()
                if (position >= codes.size || position >= sheet.remainingSeconds.size) {
                    null
                } else {
                    AccountRow.of(view, codes[position], sheet.remainingSeconds[position].toInt())
                }
            }
            mutableState.update { it.copy(rows = rows) }
            this.revision = revision
            if (sheet.revision == revision) return
        }
    }
}
