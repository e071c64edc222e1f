// The push side of the app: the FCM token sent to every portal when it changes, and pending
// requests pulled when the app comes to the foreground.
package org.assent.presentation

import kotlin.coroutines.cancellation.CancellationException
import org.assent.core.ChallengeView
import org.assent.core.PushAddress
import org.assent.core.Store

class PushCoordinator(
    private val store: Store,
    private val transport: PortalTransport,
    private val preferences: Preferences,
) {
    /** The current FCM registration token; null until Firebase gave one. */
    @Volatile
    var token: String? = preferences.string(SENT_TOKEN_KEY)
        private set

    /** Where pushes reach this phone now, for an enrollment; null before Firebase gave a token. */
    val address: PushAddress? get() = token?.let { PushAddress.Fcm(it) }

    /**
     * `FirebaseMessagingService.onNewToken` (and the token read at start): sends it to every
     * active enrollment when it differs from the one sent last. Returns the device ids updated;
     * one failing does not stop the others, and the whole is tried again at the next start.
     */
    suspend fun tokenChanged(newToken: String): List<String> {
        token = newToken
        if (preferences.string(SENT_TOKEN_KEY) == newToken) return emptyList()
        val accounts = try {
            store.pushAccounts().filter { it.active }
        } catch (e: Exception) {
            return emptyList()
        }
        val updated = mutableListOf<String>()
        var failed = false
        for (account in accounts) {
            try {
                transport.send(store.updatePushAddress(account.deviceId, PushAddress.Fcm(newToken)))
                updated.add(account.deviceId)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                failed = true
            }
        }
        if (!failed) preferences.set(SENT_TOKEN_KEY, newToken)
        return updated
    }

    /** On foreground: the requests pending at every active enrollment's portal, opened. A
     *  request already answered here or expired is left out; a portal that cannot be reached is
     *  skipped. */
    suspend fun pullPending(): List<ChallengeView> {
        val accounts = try {
            store.pushAccounts().filter { it.active }
        } catch (e: Exception) {
            return emptyList()
        }
        val open = mutableListOf<ChallengeView>()
        for (account in accounts) {
            try {
                val body = transport.send(store.pollRequest(account.deviceId))
                // The core reads the poll answer and opens each request in it.
                open.addAll(store.openPending(body))
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                continue
            }
        }
        return open
    }

    private companion object {
        const val SENT_TOKEN_KEY = "push.sent-fcm-token"
    }
}
